// edgeforge-agent rollback: boot the other (good) slot next.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/operations.hpp"
#include "agent/report.hpp"

namespace ef::agent {
namespace {

struct RollbackArgs {
  DevicePaths paths;
  bool no_reboot = false;
  bool mark_bad = false;
};

int run_rollback(const RollbackArgs& a) {
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error(), false);
  auto r = rollback(*device, a.mark_bad, log_line);
  if (!r) return fail(r.error(), false);
  report_change(a.paths, "rollback", log_line);
  return a.no_reboot ? 0 : reboot_now();
}

}  // namespace

cmdline::Command add_rollback_command(CLI::App& app) {
  auto a = std::make_shared<RollbackArgs>();
  auto* cmd =
      app.add_subcommand("rollback", "Boot the other slot (which must be good) next, and reboot");
  cmd->add_flag("--mark-bad", a->mark_bad, "Also take the running slot out of service");
  cmd->add_flag("--no-reboot", a->no_reboot, "Do not reboot now");
  add_device_options(cmd, a->paths);
  return {cmd, [a] { return run_rollback(*a); }};
}

}  // namespace ef::agent
