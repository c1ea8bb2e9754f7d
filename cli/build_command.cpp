// edgeforge build: a profile into an image, its manifest and the outputs it asks for.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/build/build.hpp"
#include "builder/build/bundle_output.hpp"
#include "builder/profile/output_format.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "cli/progress.hpp"

namespace ef::cli {
namespace {

struct BuildArgs {
  std::string profile;
  std::string output = "out";
  unsigned workers = 0;
  std::vector<std::string> formats;
  CacheArgs cache;
  OutputStyle style;
  SignArgs sign;
  std::string agent_binary;
  std::string sbom_format = "spdx";
  bool no_cache = false;
  std::string cache_max_size;
};

// SOURCE_DATE_EPOCH, when set, must be a plain non-negative integer.
Result<std::optional<int64_t>> source_date_epoch() {
  const char* v = std::getenv("SOURCE_DATE_EPOCH");
  if (v == nullptr || *v == '\0') return std::optional<int64_t>{};
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || n < 0)
    return Error(Errc::invalid_argument, std::string("SOURCE_DATE_EPOCH='") + v +
                                             "' is not a non-negative integer number of seconds");
  return std::optional<int64_t>(n);
}

Result<build::BuildOptions> build_options(const BuildArgs& a) {
  EF_ASSIGN(auto sde, source_date_epoch());
  build::BuildOptions o;
  o.profile = a.profile;
  o.output_dir = a.output;
  o.cache = cache_options(a.cache);
  o.workers = a.workers;
  o.formats = a.formats;
  o.source_date_epoch = sde;
  o.artifact_mirror = a.cache.artifact_mirror;
  o.agent_binary = a.agent_binary;
  o.sign_keys = a.sign.keys;
  o.passphrase = a.sign.passphrase;
  o.sbom_format = sbom::parse_format(a.sbom_format).value_or(sbom::Format::spdx);
  o.block_cache = !a.no_cache;
  if (!a.cache_max_size.empty()) {
    auto max = squashfs::parse_size(a.cache_max_size);
    if (!max) return std::move(max).error().with_context("--cache-max-size");
    o.block_cache_max_bytes = *max;
  }
  return o;
}

nlohmann::json block_cache_json(const build::BuildResult& result) {
  if (!result.block_cache) return {{"enabled", false}};
  const auto& c = *result.block_cache;
  nlohmann::json out = {{"enabled", true},
                        {"hits", c.hits},
                        {"hitBytes", c.hit_bytes},
                        {"misses", c.misses},
                        {"stored", c.stored},
                        {"storedBytes", c.stored_bytes},
                        {"packBlocks", c.pack_blocks},
                        {"replacedPacks", c.replaced},
                        {"damaged", c.damaged},
                        {"storeErrors", c.store_errors}};
  if (const auto& p = result.block_cache_prune)
    out["pruned"] = {{"packs", p->packs},
                     {"bytes", p->bytes},
                     {"removed", p->removed},
                     {"removedBytes", p->removed_bytes}};
  if (const auto& e = result.entry_index)
    out["entryIndexes"] = {{"used", e->used}, {"written", e->written}};
  return out;
}

void print_result(const BuildArgs& a, const build::BuildResult& result,
                  const std::optional<build::BundleResult>& bundle) {
  if (a.style.json) {
    nlohmann::json out = {{"ok", true},
                          {"image", result.image.string()},
                          {"manifest", result.manifest.string()},
                          {"sha256", result.image_sha256},
                          {"size", result.image_size},
                          {"entries", result.manifest_json["entries"]},
                          {"sbom", result.sbom.string()},
                          {"provenance", result.provenance.string()},
                          {"warnings", result.manifest_json["warnings"]}};
    if (bundle) out["bundle"] = bundle->bundle.string();
    out["outputs"] = nlohmann::json::array();
    for (const auto& f : result.outputs) out["outputs"].push_back(f.string());
    out["cache"] = block_cache_json(result);
    out["stages"] = nlohmann::json::array();
    for (const auto& t : result.stages)
      out["stages"].push_back({{"stage", t.stage}, {"seconds", t.seconds}});
    std::cout << out.dump(2) << "\n";
    return;
  }
  if (a.style.quiet) return;
  for (const auto& w : result.manifest_json["warnings"]) spdlog::warn("{}", w.get<std::string>());
  std::cout << result.image.string() << "  " << result.image_size << " bytes  sha256 "
            << result.image_sha256 << "\n"
            << result.manifest.string() << "\n"
            << result.sbom.string() << "\n"
            << result.provenance.string() << "\n";
  for (const auto& f : result.outputs) std::cout << f.string() << "\n";
  if (bundle) {
    std::cout << bundle->bundle.string() << "  verity root "
              << bundle->manifest.verity.root_hash_hex << "\n";
  }
}

int run_build(const BuildArgs& a) {
  auto o = build_options(a);
  if (!o) return fail(o.error(), a.style.json);
  auto display =
      std::make_shared<ProgressDisplay>(!a.style.quiet && !a.style.json && ::isatty(STDERR_FILENO));
  o->progress = [display](const build::Progress& p) { display->update(p); };
  auto result = build::build_image(*o);
  display->finish();
  if (!result) return fail(result.error(), a.style.json);
  const auto& bundle = result->bundle;  // build_image signs with the --sign-key keys
  print_result(a, *result, bundle);
  return 0;
}

}  // namespace

cmdline::Command add_build_command(CLI::App& app) {
  auto a = std::make_shared<BuildArgs>();
  auto* cmd =
      app.add_subcommand("build", "Build the squashfs image (and manifest) a profile describes");
  add_profile_option(cmd, a->profile);
  add_output_option(cmd, a->output, "Output directory (default: out)");
  cmd->add_option("-j,--workers", a->workers, "Compressor threads (default: one per CPU)");
  cmd->add_option("-f,--format", a->formats,
                  "Output formats, overriding spec.output.formats: " +
                      profile::output_format_list() + " (repeat or comma-separate)")
      ->delimiter(',')
      ->check(CLI::IsMember(profile::output_format_names()));
  add_sign_key_options(cmd, a->sign, "Also write a signed bundle (.efb) with this key");
  cmd->add_option("--agent-binary", a->agent_binary,
                  "The edgeforge-agent to put into the image (default: $EDGEFORGE_AGENT, else "
                  "the one beside this program or in ../agent/)");
  cmd->add_option("--sbom-format", a->sbom_format,
                  "The SBOM written beside the image and into the bundle: spdx (SPDX 2.3 JSON, "
                  "the default) or cyclonedx (CycloneDX 1.5 JSON)")
      ->check(CLI::IsMember({"spdx", "cyclonedx"}));
  add_cache_options(cmd, a->cache, true);
  cmd->add_flag("--no-cache", a->no_cache,
                "Compress every block and read every tarball's headers: neither read nor "
                "write the block cache or the entry indexes (downloads still come from the "
                "download cache)");
  cmd->add_option("--cache-max-size", a->cache_max_size,
                  "Bound of the block cache, pruned (least recently used first) after a build "
                  "that added to it, e.g. 10G (default: 4G)");
  add_output_style(cmd, a->style,
                   "Print the result on stdout as JSON, with the block cache's "
                   "hits and misses, the entry indexes used and written, and the seconds "
                   "per stage");
  cmd->footer(
      "Writes OUTPUT/<name>-<version>.squashfs, .manifest.json, the SBOM (.spdx.json,\n"
      "or .cdx.json) and the SLSA provenance (.provenance.json), and .efb with\n"
      "--sign-key (carrying the SBOM and provenance; docs/sbom.md). Timestamps come from "
      "SOURCE_DATE_EPOCH when set, else from the\n"
      "profile's metadata.epoch. The raw and qcow2 formats add\n"
      "OUTPUT/<name>-<version>.raw/.qcow2: the A/B disk image of docs/disk-layout.md with\n"
      "slot A holding the image; iso adds the installer ISO (OUTPUT/<name>-<version>.iso,\n"
      "BIOS and UEFI, CD and USB).\n"
      "Every image gets edgeforge-agent, its units, /etc/edgeforge/agent.json and a\n"
      "keyring with the --sign-key public keys (docs/agent.md); spec.agent.enabled: false\n"
      "leaves it out.\n"
      "Compressed blocks are kept in CACHE_DIR/blocks, so a rebuild compresses only the\n"
      "blocks that changed and writes the same bytes as a cold build (docs/cache.md).");
  return {cmd, [a] { return run_build(*a); }};
}

}  // namespace ef::cli
