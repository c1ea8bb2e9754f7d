#include "agent/cli.hpp"

#include "agent/commands.hpp"

#ifndef EF_VERSION
#define EF_VERSION "0.0.0"
#endif

namespace ef::agent {

int run_agent(int argc, char** argv) {
  cmdline::Program program{
      "edgeforge-agent",
      "edgeforge-agent installs signed edgeforge bundles on devices.",
      EF_VERSION,
      {add_status_command, add_upgrade_command, add_boot_command, add_mark_good_command,
       add_rollback_command, add_write_slot_command, add_install_command, add_watch_command,
       add_reboot_command, add_report_command},
      /*exits_marked_bad=*/true,
      {}};
  return cmdline::run_program(program, argc, argv);
}

}  // namespace ef::agent
