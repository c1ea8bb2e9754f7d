// edgeforge-agent boot: at boot, health-check a slot on trial and mark it good or bad.
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

struct BootArgs {
  DevicePaths paths;
  bool no_reboot = false;
};

int run_boot(const BootArgs& a) {
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error(), false);
  auto outcome = boot_check(*device, log_line);
  report_change(a.paths, "boot", log_line);
  if (!outcome) return fail(outcome.error(), false);
  if (*outcome == BootOutcome::marked_bad && !a.no_reboot) return reboot_now();
  return *outcome == BootOutcome::marked_bad ? cmdline::kExitMarkedBad : cmdline::kExitOk;
}

}  // namespace

cmdline::Command add_boot_command(CLI::App& app) {
  auto a = std::make_shared<BootArgs>();
  auto* cmd = app.add_subcommand(
      "boot", "At boot: health-check a slot on trial, then mark it good, or bad and reboot");
  cmd->add_flag("--no-reboot", a->no_reboot,
                "Do not reboot after marking a slot bad (exit status 3 instead)");
  add_device_options(cmd, a->paths);
  cmd->footer(
      "Run by edgeforge-boot.service. Health checks come from agent.json "
      "(spec.agent.health).");

  return {cmd, [a] { return run_boot(*a); }};
}

}  // namespace ef::agent
