#include "cli/app.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/progress.hpp"

#ifndef EF_VERSION
#define EF_VERSION "0.0.0"
#endif

namespace ef::cli {

int run_edgeforge(int argc, char** argv) {
  spdlog::set_default_logger(make_stderr_logger("edgeforge"));
  cmdline::Program program{
      "edgeforge",
      "edgeforge builds immutable OS images for edge Kubernetes devices.",
      EF_VERSION,
      {add_build_command, add_validate_command, add_inspect_command, add_keygen_command,
       add_bundle_command, add_verify_command, add_publish_command, add_delta_stats_command,
       add_channel_command, add_fleet_command, add_provision_script_command,
       add_render_site_command, add_run_vm_command, add_cache_command},
      /*exits_marked_bad=*/false,
      [](CLI::App& app) -> std::function<void()> {
        auto verbose = std::make_shared<bool>(false);
        app.add_flag("-v,--verbose", *verbose, "Log more detail");
        return [verbose, &app] {
          // -q of the command (every command has it) lowers the level.
          bool quiet = false;
          for (const CLI::App* sub : app.get_subcommands()) {
            const CLI::Option* q = sub->get_option_no_throw("--quiet");
            if (q != nullptr && q->count() > 0) quiet = true;
          }
          spdlog::set_level(*verbose ? spdlog::level::debug
                                     : (quiet ? spdlog::level::warn : spdlog::level::info));
        };
      }};
  return cmdline::run_program(program, argc, argv);
}

}  // namespace ef::cli
