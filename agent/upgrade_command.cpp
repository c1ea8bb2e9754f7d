// edgeforge-agent upgrade: a signed bundle into the slot not running, on trial.
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

struct UpgradeArgs {
  DevicePaths paths;
  UpgradeOptions options;
  bool reboot = false;
  bool progress = false;
  bool json = false;
};

int run_upgrade(UpgradeArgs& a) {
  // With --json, stdout carries the one JSON document a caller parses; the
  // log and progress lines go to stderr.
  const Log log = a.json ? Log(log_to_stderr) : Log(log_line);
  if (a.progress) {
    // One line per 5 %: readable on a serial console and in the journal.
    a.options.progress = [log, last = -1](uint64_t done, uint64_t total) mutable {
      int pct = total ? static_cast<int>(done * 100 / total) / 5 * 5 : 100;
      if (pct == last) return;
      last = pct;
      log("written " + std::to_string(pct) + "%");
    };
  }
  auto device = Device::open(a.paths, log);
  if (!device) return fail(device.error(), a.json);
  auto r = upgrade(*device, a.options, log);
  report_change(a.paths, "upgrade", log);
  if (!r) return fail(r.error(), a.json);
  const auto& m = r->install.manifest;
  const DeltaStats& d = r->install.delta;
  if (d.used) log(delta_summary(d));
  if (a.json) {
    nlohmann::json out = {{"ok", true},
                          {"slot", r->slot},
                          {"version", m.version.str()},
                          {"bytes", m.payload.size},
                          {"writeSeconds", r->install.write_seconds},
                          {"readBackSeconds", r->install.read_back_seconds},
                          {"bootFilesSeconds", r->boot_files_seconds},
                          {"keyId", r->install.signature.key_id}};
    if (d.used) out["delta"] = delta_json(d);
    std::cout << out.dump(2) << "\n";
  }
  return a.reboot ? reboot_now() : 0;
}

}  // namespace

cmdline::Command add_upgrade_command(CLI::App& app) {
  auto a = std::make_shared<UpgradeArgs>();
  auto* cmd = app.add_subcommand(
      "upgrade", "Install a signed bundle into the slot not running and boot it next, on trial");
  cmd->add_option("bundle", a->options.bundle,
                  "Bundle file or http(s):// URL; a bundle head (.efbh) installs from its chunk "
                  "store, fetching only what the booted slot lacks")
      ->required();
  cmd->add_flag("--allow-downgrade", a->options.allow_downgrade,
                "Accept a version older than the running one (logged; the "
                "anti-rollback floor still applies)");
  cmd->add_flag("--reboot", a->reboot, "Reboot into the new slot when done");
  cmd->add_flag("--progress", a->progress, "Print a line per 5 % of the payload written");
  cmd->add_flag("--json", a->json,
                "Print a machine-readable result on stdout (the log goes to stderr)");
  add_device_options(cmd, a->paths);
  cmd->footer(
      "Order: signatures (the image's keyring), compatible, version floor; only then is the\n"
      "other slot taken out of the boot order and written, read back and verified; then its\n"
      "kernel and initrd go to the ESP, and one atomic grubenv write makes it boot next with\n"
      "the configured tries. A URL is streamed, never stored, and resumed after drops.\n"
      "From a bundle head (docs/updates.md) the head is checked the same way first; chunks\n"
      "already in the other slot or in the booted one are reused, the rest fetched and each\n"
      "checked against the signed index before it is written.");

  return {cmd, [a] { return run_upgrade(*a); }};
}

}  // namespace ef::agent
