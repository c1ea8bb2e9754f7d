// edgeforge-agent status: the booted slot, each slot's version and state, the last operation.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/boot_control.hpp"
#include "agent/channel_poll.hpp"
#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/state.hpp"
#include "agent/status_report.hpp"

namespace ef::agent {
namespace {

struct StatusArgs {
  DevicePaths paths;
  bool json = false;
};

// Status takes no lock and changes nothing: it must answer while an
// upgrade runs, and on a device whose ESP is not mounted.
int run_status(const StatusArgs& a) {
  auto state = load_state(a.paths.state);
  if (!state) return fail(state.error(), a.json);
  if (a.json) {
    std::cout << status_document(a.paths).dump(2) << "\n";
    return 0;
  }
  std::string booted = booted_slot(a.paths.cmdline, a.paths.booted_slot);
  auto [grub, grub_error] = read_boot_state(a.paths);
  auto watch = load_watch_state(a.paths.state.parent_path() / "watch.json");
  std::cout << "booted slot: " << (booted.empty() ? "unknown (not booted by edgeforge)" : booted)
            << "\nanti-rollback floor: " << state->floor << "\n";
  if (grub)
    std::cout << "boot order: " << grub->order << "\n";
  else
    std::cout << "boot state: unavailable (" << grub_error << ")\n";
  for (const char* name : {"A", "B"}) {
    const SlotRecord& r = state->slot(name);
    std::cout << "slot " << name << ": " << slot_health_name(r.health);
    if (!r.version.empty()) std::cout << "  " << r.product << " " << r.version;
    if (grub && !slot_ok(*grub, name) && slot_tries(*grub, name) > 0) {
      std::cout << "  (" << slot_tries(*grub, name) << " tries left)";
    }
    std::cout << "\n";
  }
  if (state->operation) {
    const Operation& o = *state->operation;
    std::cout << "last operation: " << o.kind << " " << o.version << " slot " << o.slot << ": "
              << operation_phase_name(o.phase) << (o.error.empty() ? "" : " (" + o.error + ")")
              << "\n";
  }
  if (!watch) {
    std::cout << "updates: unavailable (" << watch.error().message() << ")\n";
  } else if (!watch->url.empty()) {
    const WatchState& w = *watch;
    std::cout << "channel: " << (w.channel.empty() ? w.url : w.channel)
              << (w.metadata_version
                      ? " (metadata version " + std::to_string(w.metadata_version) + ")"
                      : "")
              << ", polled " << format_utc(w.polled) << "\n";
    if (!w.error.empty()) std::cout << "last poll failed: " << w.error << "\n";
    if (!w.action.empty()) {
      std::cout << "update: " << w.action << ": " << w.why;
      if (w.until) std::cout << " (until " << format_utc(*w.until) << ")";
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace

cmdline::Command add_status_command(CLI::App& app) {
  auto a = std::make_shared<StatusArgs>();
  auto* cmd = app.add_subcommand("status",
                                 "Show the booted slot, each slot's version and state, the last "
                                 "operation and the release channel");
  add_device_options(cmd, a->paths);
  cmd->add_flag("--json", a->json, "Print JSON");

  return {cmd, [a] { return run_status(*a); }};
}

}  // namespace ef::agent
