// The subcommands of `edgeforge`, one file each (cli/*_command.cpp): each
// adds its options to the parent and returns the function that runs it.
#pragma once

#include "util/command_line.hpp"

namespace ef::cli {

cmdline::Command add_build_command(CLI::App& app);
cmdline::Command add_validate_command(CLI::App& app);
cmdline::Command add_inspect_command(CLI::App& app);
cmdline::Command add_keygen_command(CLI::App& app);
cmdline::Command add_bundle_command(CLI::App& app);
cmdline::Command add_verify_command(CLI::App& app);
cmdline::Command add_publish_command(CLI::App& app);
cmdline::Command add_delta_stats_command(CLI::App& app);
cmdline::Command add_channel_command(CLI::App& app);
cmdline::Command add_fleet_command(CLI::App& app);
cmdline::Command add_provision_script_command(CLI::App& app);
cmdline::Command add_render_site_command(CLI::App& app);
cmdline::Command add_run_vm_command(CLI::App& app);
cmdline::Command add_cache_command(CLI::App& app);

}  // namespace ef::cli
