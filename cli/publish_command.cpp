// edgeforge publish: a bundle as a bundle head and chunks in a store.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/publish/publish.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "util/oci_registry.hpp"

namespace ef::cli {
namespace {

struct PublishArgs {
  std::string bundle, to;
  RegistryArgs registry;
  OutputStyle style;
};

Result<publish::PublishReport> publish_oci(const PublishArgs& a) {
  EF_ASSIGN(auto registry, open_registry(a.to, a.registry));
  return publish::publish_to_oci(a.bundle, *registry);
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

int run_publish(const PublishArgs& a) {
  auto r = a.to.starts_with("oci://") ? publish_oci(a) : publish::publish_to_dir(a.bundle, a.to);
  if (!r) return fail(r.error().with_context(a.bundle), a.style.json);
  if (a.style.json) {
    std::cout << nlohmann::json({{"head", r->head.string()},
                                 {"payloadBytes", r->payload_bytes},
                                 {"chunks", r->chunks},
                                 {"writtenChunks", r->written_chunks},
                                 {"writtenBytes", r->written_bytes},
                                 {"presentChunks", r->present_chunks},
                                 {"presentBytes", r->present_bytes},
                                 {"repairedChunks", r->repaired_chunks}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << r->head.string() << ": " << r->chunks << " chunks; " << r->written_chunks
              << " written (" << mib(r->written_bytes) << "), " << r->present_chunks
              << " already in the store (" << mib(r->present_bytes) << ")";
    if (r->repaired_chunks) std::cout << ", " << r->repaired_chunks << " corrupt ones replaced";
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_publish_command(CLI::App& app) {
  auto a = std::make_shared<PublishArgs>();
  auto* cmd = app.add_subcommand(
      "publish", "Publish a bundle as a bundle head and a chunk store for delta updates");
  cmd->add_option("bundle", a->bundle, "Signed bundle (.efb)")->required();
  cmd->add_option("--to", a->to,
                  "A directory (DIR/<product>-<version>.efbh and DIR/chunks/, for any static web "
                  "server) or oci://HOST[:PORT]/REPOSITORY[:TAG] (tag: the version)")
      ->required();
  add_registry_options(cmd, a->registry);
  add_output_style(cmd, a->style);
  cmd->footer(
      "Chunks already in the store are not written again, so one store serves every release.\n"
      "Devices upgrade with: edgeforge-agent upgrade https://HOST/PATH/<product>-<version>.efbh\n"
      "See docs/updates.md.");
  return {cmd, [a] { return run_publish(*a); }};
}

}  // namespace ef::cli
