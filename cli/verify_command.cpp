// edgeforge verify: a bundle's signatures, policy and payload.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/bundle_inspect.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "signing/bundle.hpp"
#include "signing/keyring.hpp"

namespace ef::cli {
namespace {

struct VerifyArgs {
  std::string bundle, keyring, compatible, min_version, installed_version;
  bool allow_downgrade = false;
  OutputStyle style;
};

Result<signing::VerifyPolicy> policy_of(const VerifyArgs& a) {
  signing::VerifyPolicy policy;
  policy.compatible = a.compatible;
  policy.allow_downgrade = a.allow_downgrade;
  EF_ASSIGN(policy.min_version, SemVer::parse_option(a.min_version, "--min-version"));
  EF_ASSIGN(policy.installed_version,
            SemVer::parse_option(a.installed_version, "--installed-version"));
  return policy;
}

int run_verify(const VerifyArgs& a) {
  auto policy = policy_of(a);
  if (!policy) return fail(policy.error(), a.style.json);
  auto ring = signing::Keyring::load(a.keyring);
  if (!ring) return fail(ring.error(), a.style.json);
  auto v = signing::verify_bundle(a.bundle, *ring, *policy);
  if (!v) return fail(v.error().with_context(a.bundle), a.style.json);
  const auto& m = v->manifest;
  // The documents after the payload (SBOM, provenance) are signed too.
  if (!m.attachments.empty()) {
    auto bundle = signing::Bundle::open(a.bundle);
    if (!bundle) return fail(bundle.error().with_context(a.bundle), a.style.json);
    for (const auto& att : m.attachments) {
      auto bytes = signing::read_attachment(*bundle, m, att.role);
      if (!bytes) return fail(bytes.error(), a.style.json);
    }
  }
  if (a.style.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"bundle", a.bundle},
                                 {"keyId", v->signature.key_id},
                                 {"keyFile", v->signature.key_file.string()},
                                 {"manifest", manifest_json(m)}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << a.bundle << ": OK  " << m.product << " " << m.version.str() << " for \""
              << m.compatible << "\" (floor " << m.min_version.str() << "), signed by key "
              << v->signature.key_id << " (" << v->signature.key_file.string() << ")\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_verify_command(CLI::App& app) {
  auto a = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand(
      "verify", "Verify a bundle's signature, policy, payload and attached documents");
  cmd->add_option("bundle", a->bundle, "Bundle file (.efb)")->required();
  cmd->add_option("--keyring", a->keyring,
                  "Directory of trusted public keys (*.pub) and a 'revoked' list of key IDs")
      ->required();
  cmd->add_option("--compatible", a->compatible, "Refuse bundles for other devices");
  cmd->add_option("--min-version", a->min_version,
                  "Refuse versions below this anti-rollback floor");
  cmd->add_option("--installed-version", a->installed_version,
                  "Refuse versions older than the installed one");
  cmd->add_flag("--allow-downgrade", a->allow_downgrade,
                "Accept a version older than --installed-version (never below the floor)");
  add_output_style(cmd, a->style);
  cmd->footer("Exit status 0 only when every check passes; docs/bundle-format.md lists them.");
  return {cmd, [a] { return run_verify(*a); }};
}

}  // namespace ef::cli
