// edgeforge-agent reboot: into the staged update (reboot policy "manual"),
// after the pre-reboot hooks.
#include <CLI/CLI.hpp>
#include <memory>

#include "agent/boot_control.hpp"
#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/reboot.hpp"

namespace ef::agent {
namespace {

struct RebootArgs {
  DevicePaths paths;
  RebootOptions reboot;
  std::string reboot_command;
};

int run_reboot(RebootArgs& a) {
  if (!a.reboot_command.empty()) a.reboot.command = {"/bin/sh", "-c", a.reboot_command};
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error());
  const std::string booted = device->booted();
  if (booted.empty()) {
    a.reboot.reason = "operator";
  } else {
    const std::string other = other_slot(booted);
    const SlotRecord& r = device->state().slot(other);
    if (r.health == SlotHealth::trial) {
      a.reboot.reason = "release " + r.version + " in slot " + other;
      log_line("slot " + other + " holds " + r.product + " " + r.version +
               " and boots next, on trial");
    } else {
      a.reboot.reason = "operator";
      log_line("no update is staged; the device boots slot " + booted + " again");
    }
  }
  if (auto r = reboot_device(a.reboot, log_line); !r) return fail(r.error());
  return 0;
}

}  // namespace

cmdline::Command add_reboot_command(CLI::App& app) {
  auto a = std::make_shared<RebootArgs>();
  auto* cmd = app.add_subcommand(
      "reboot", "Reboot into the staged update after the pre-reboot hooks (reboot policy manual)");
  cmd->add_option(
      "--hooks", a->reboot.hooks,
      "Pre-reboot hooks, run in name order (default: " + a->reboot.hooks.string() + ")");
  cmd->add_option("--reboot-command", a->reboot_command,
                  "Shell command that reboots the device (default: systemctl reboot)");
  add_device_options(cmd, a->paths);
  cmd->footer(
      "A hook that exits non-zero (a node that cannot be drained, the cluster's reboot lease\n"
      "held by another node) stops the reboot; nothing else changes.");
  return {cmd, [a] { return run_reboot(*a); }};
}

}  // namespace ef::agent
