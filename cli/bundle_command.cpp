// edgeforge bundle: sign a squashfs image into an upgrade bundle.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/build/bundle_output.hpp"
#include "cli/bundle_inspect.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"

namespace ef::cli {
namespace {

struct BundleArgs {
  std::string image, output, build_manifest, product, compatible, version, min_version;
  SignArgs sign;
  OutputStyle style;
};

int run_bundle(const BundleArgs& a) {
  build::BundleRequest r;
  r.image = a.image;
  r.out = a.output;
  r.build_manifest = a.build_manifest;
  r.product = a.product;
  r.compatible = a.compatible;
  r.version = a.version;
  r.min_version = a.min_version;
  r.keys = a.sign.keys;
  r.passphrase = a.sign.passphrase;
  auto result = build::make_bundle(r);
  if (!result) return fail(result.error(), a.style.json);
  const auto& m = result->manifest;
  if (a.style.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"bundle", result->bundle.string()},
                                 {"manifest", manifest_json(m)}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << result->bundle.string() << "  " << m.product << " " << m.version.str() << " for \""
              << m.compatible << "\"  verity root " << m.verity.root_hash_hex << "\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_bundle_command(CLI::App& app) {
  auto a = std::make_shared<BundleArgs>();
  auto* cmd = app.add_subcommand("bundle", "Sign a squashfs image into an upgrade bundle (.efb)");
  cmd->add_option("--image", a->image, "Squashfs image (from edgeforge build)")
      ->required()
      ->check(CLI::ExistingFile);
  add_sign_key_options(cmd, a->sign, "Signing key")->required();
  add_output_option(cmd, a->output, "Bundle file (default: the image name with .efb)");
  cmd->add_option("--build-manifest", a->build_manifest,
                  "Build manifest of the image (default: IMAGE's .manifest.json, if present)");
  cmd->add_option("--product", a->product, "Product name (default: from the build manifest)");
  cmd->add_option("--version", a->version,
                  "Release version, semver (default: from the build manifest)");
  cmd->add_option("--compatible", a->compatible,
                  "Devices that may install it (default: profile spec.bundle.compatible, "
                  "else its name)");
  cmd->add_option("--min-version", a->min_version,
                  "Anti-rollback floor devices adopt (default: profile spec.bundle.minVersion, "
                  "else 0.0.0)");
  add_output_style(cmd, a->style);
  return {cmd, [a] { return run_bundle(*a); }};
}

}  // namespace ef::cli
