// edgeforge provision-script: the node a profile describes, as one idempotent
// script for an existing host.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/cluster/provision.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"

namespace ef::cli {
namespace {

struct ProvisionArgs {
  std::string profile;
  std::string output = "provision";
  CacheArgs cache;
  OutputStyle style;
};

int run_provision_script(const ProvisionArgs& a) {
  fetch::Cache cache(cache_options(a.cache));
  auto b = cluster::write_provision_script(a.profile, cache, a.cache.artifact_mirror, a.output);
  if (!b) return fail(b.error(), a.style.json);
  if (a.style.json) {
    std::cout << nlohmann::json({{"ok", true}, {"script", b->script.string()}, {"files", b->files}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << b->script.string() << "  (" << b->files << " file(s) in " << b->files_dir.string()
              << ")\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_provision_script_command(CLI::App& app) {
  auto a = std::make_shared<ProvisionArgs>();
  auto* cmd = app.add_subcommand(
      "provision-script",
      "Write an idempotent shell script that turns an existing Ubuntu host into the node a "
      "profile describes");
  add_profile_option(cmd, a->profile);
  add_output_option(cmd, a->output, "Output directory (default: provision)");
  add_cache_options(cmd, a->cache, true);
  add_output_style(cmd, a->style);
  cmd->footer(
      "Writes OUTPUT/provision.sh and OUTPUT/files/<sha256> (every file it installs,\n"
      "verified before use). Copy the folder to the host and run: sudo sh provision.sh\n"
      "Running it again changes nothing. EF_ROOT=/dir installs under another root.\n"
      "Uses spec.kubernetes, spec.packs and spec.site; the host replaces spec.base.");
  return {cmd, [a] { return run_provision_script(*a); }};
}

}  // namespace ef::cli
