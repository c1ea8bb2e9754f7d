// The subcommands of `edgeforge-agent`, one file each (agent/*_command.cpp):
// each adds its options to the parent and returns the function that runs it.
#pragma once

#include "util/command_line.hpp"

namespace ef::agent {

cmdline::Command add_status_command(CLI::App& app);
cmdline::Command add_upgrade_command(CLI::App& app);
cmdline::Command add_boot_command(CLI::App& app);
cmdline::Command add_mark_good_command(CLI::App& app);
cmdline::Command add_rollback_command(CLI::App& app);
cmdline::Command add_write_slot_command(CLI::App& app);
cmdline::Command add_install_command(CLI::App& app);
cmdline::Command add_watch_command(CLI::App& app);
cmdline::Command add_reboot_command(CLI::App& app);
cmdline::Command add_report_command(CLI::App& app);

}  // namespace ef::agent
