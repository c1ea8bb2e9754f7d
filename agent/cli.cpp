#include "agent/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/boot_control.hpp"
#include "agent/device.hpp"
#include "agent/install_cli.hpp"
#include "agent/operations.hpp"
#include "agent/slot_install.hpp"
#include "agent/state.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

#ifndef EF_VERSION
#define EF_VERSION "0.0.0"
#endif

namespace ef::agent {
namespace {

int fail(const Error& e, bool json) {
  if (json) {
    std::cout << nlohmann::json(
                     {{"ok", false},
                      {"error", {{"code", errc_name(e.code())}, {"message", e.message()}}}})
                     .dump(2)
              << "\n";
  }
  std::cerr << "edgeforge-agent: error: " << e.message() << "\n";
  return 1;
}

Result<std::optional<SemVer>> optional_version(const std::string& text, const char* option) {
  if (text.empty()) return std::optional<SemVer>{};
  auto v = SemVer::parse(text);
  if (!v) return v.error().with_context(option);
  return std::optional<SemVer>(*v);
}

struct WriteSlotArgs {
  SlotInstallOptions options;
  std::string min_version, installed_version;
  bool json = false;
};

int run_write_slot(WriteSlotArgs& a) {
  auto floor = optional_version(a.min_version, "--min-version");
  if (!floor) return fail(floor.error(), a.json);
  auto installed = optional_version(a.installed_version, "--installed-version");
  if (!installed) return fail(installed.error(), a.json);
  a.options.policy.min_version = *floor;
  a.options.policy.installed_version = *installed;
  auto r = install_to_slot(a.options);
  if (!r) return fail(r.error(), a.json);
  const auto& m = r->manifest;
  if (a.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"slot", a.options.slot.string()},
                                 {"product", m.product},
                                 {"version", m.version.str()},
                                 {"bytes", m.payload.size},
                                 {"writeSeconds", r->write_seconds},
                                 {"readBackSeconds", r->read_back_seconds},
                                 {"keyId", r->signature.key_id}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << a.options.slot.string() << ": " << m.product << " " << m.version.str() << " ("
              << m.payload.size << " bytes) written and verified\n";
  }
  return 0;
}

void log_line(const std::string& line) {
  std::cout << "edgeforge-agent: " << line << std::endl;
}

void log_to_stderr(const std::string& line) {
  std::cerr << "edgeforge-agent: " << line << std::endl;
}

/// Options every device command shares; the defaults are a real device.
void add_device_options(CLI::App* cmd, DevicePaths& p) {
  cmd->add_option("--config", p.config, "Agent configuration (default: " + p.config.string() + ")");
  cmd->add_option("--esp", p.esp,
                  "Mounted ESP (default: PARTLABEL edgeforge-esp, mounted at " +
                      p.esp_mountpoint.string() + ")");
  cmd->add_option("--slot-a", p.slot_a, "Slot A (default: " + p.slot_a.string() + ")");
  cmd->add_option("--slot-b", p.slot_b, "Slot B (default: " + p.slot_b.string() + ")");
  cmd->add_option("--state", p.state, "Agent journal (default: " + p.state.string() + ")");
  cmd->add_option("--cmdline", p.cmdline,
                  "Kernel command line with edgeforge.slot= (default: /proc/cmdline)");
  cmd->add_option("--lock", p.lock, "Lock file (default: " + p.lock.string() + ")");
}

/// Reboots through systemd, so services stop cleanly and file systems sync.
int reboot_now() {
  log_line("rebooting");
  std::cout.flush();
  auto r = run_process({"systemctl", "reboot"});
  if (!r || !r->success()) {
    std::cerr << "edgeforge-agent: error: systemctl reboot failed; reboot the device\n";
    return 1;
  }
  return 0;
}

struct StatusArgs {
  DevicePaths paths;
  bool json = false;
};

nlohmann::json slot_json(const SlotRecord& r, const std::optional<iso::SlotState>& grub,
                         const std::string& name) {
  nlohmann::json j{{"state", slot_health_name(r.health)},
                   {"product", r.product},
                   {"version", r.version},
                   {"imageSha256", r.image_sha256}};
  if (grub) {
    j["bootable"] = slot_ok(*grub, name) || slot_tries(*grub, name) > 0;
    j["triesLeft"] = slot_tries(*grub, name);
    j["grubOk"] = slot_ok(*grub, name);
  }
  return j;
}

// Status takes no lock and changes nothing: it must answer while an
// upgrade runs, and on a device whose ESP is not mounted.
int run_status(const StatusArgs& a) {
  auto state = load_state(a.paths.state);
  if (!state) return fail(state.error(), a.json);
  std::string booted = booted_slot(a.paths.cmdline);
  std::optional<iso::SlotState> grub;
  std::string grub_error;
  std::filesystem::path esp = a.paths.esp;
  if (esp.empty()) {
    auto mounted = ensure_esp_mounted(a.paths.esp_mountpoint);
    if (mounted)
      esp = *mounted;
    else
      grub_error = mounted.error().message();
  }
  if (!esp.empty()) {
    auto g = BootControl(esp).read();
    if (g)
      grub = *g;
    else
      grub_error = g.error().message();
  }
  nlohmann::json op = nullptr;
  if (state->operation) {
    const Operation& o = *state->operation;
    op = {{"kind", o.kind},       {"phase", o.phase},   {"slot", o.slot},
          {"version", o.version}, {"bundle", o.bundle}, {"error", o.error}};
  }
  if (a.json) {
    nlohmann::json j{
        {"booted", booted.empty() ? nlohmann::json(nullptr) : nlohmann::json(booted)},
        {"slots", {{"A", slot_json(state->a, grub, "A")}, {"B", slot_json(state->b, grub, "B")}}},
        {"floor", state->floor},
        {"lastOperation", op}};
    if (grub) j["bootOrder"] = grub->order;
    if (!grub_error.empty()) j["bootStateError"] = grub_error;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
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
              << o.phase << (o.error.empty() ? "" : " (" + o.error + ")") << "\n";
  }
  return 0;
}

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
  if (!r) return fail(r.error(), a.json);
  const auto& m = r->install.manifest;
  if (a.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"slot", r->slot},
                                 {"version", m.version.str()},
                                 {"bytes", m.payload.size},
                                 {"writeSeconds", r->install.write_seconds},
                                 {"readBackSeconds", r->install.read_back_seconds},
                                 {"bootFilesSeconds", r->boot_files_seconds},
                                 {"keyId", r->install.signature.key_id}})
                     .dump(2)
              << "\n";
  }
  return a.reboot ? reboot_now() : 0;
}

struct SimpleArgs {
  DevicePaths paths;
  bool no_reboot = false;
  bool mark_bad = false;
};

int run_boot(const SimpleArgs& a) {
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error(), false);
  auto outcome = boot_check(*device, log_line);
  if (!outcome) return fail(outcome.error(), false);
  if (*outcome == BootOutcome::marked_bad && !a.no_reboot) return reboot_now();
  return *outcome == BootOutcome::marked_bad ? 3 : 0;
}

int run_mark_good(const SimpleArgs& a) {
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error(), false);
  auto r = mark_good(*device, log_line);
  return r ? 0 : fail(r.error(), false);
}

int run_rollback(const SimpleArgs& a) {
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error(), false);
  auto r = rollback(*device, a.mark_bad, log_line);
  if (!r) return fail(r.error(), false);
  return a.no_reboot ? 0 : reboot_now();
}

}  // namespace

int run_agent(int argc, char** argv) {
  CLI::App app{"edgeforge-agent installs signed edgeforge bundles on devices.", "edgeforge-agent"};
  app.set_version_flag("--version", std::string("edgeforge-agent ") + EF_VERSION);
  app.require_subcommand(0, 1);
  app.footer("Run 'edgeforge-agent COMMAND --help' for a command's options.");

  WriteSlotArgs ws;
  auto* write_slot_cmd = app.add_subcommand(
      "write-slot", "Verify a bundle and write its image into one slot, then read it back");
  write_slot_cmd->add_option("bundle", ws.options.bundle, "Bundle file or http(s):// URL")
      ->required();
  write_slot_cmd->add_option("--slot", ws.options.slot, "Slot partition or preallocated file")
      ->required();
  write_slot_cmd
      ->add_option("--keyring", ws.options.keyring,
                   "Trusted public keys (*.pub) and the 'revoked' list")
      ->required();
  write_slot_cmd->add_option("--compatible", ws.options.policy.compatible,
                             "This device's compatible string");
  write_slot_cmd->add_option("--min-version", ws.min_version, "Anti-rollback floor");
  write_slot_cmd->add_option("--installed-version", ws.installed_version,
                             "Refuse versions older than this");
  write_slot_cmd->add_flag("--allow-downgrade", ws.options.policy.allow_downgrade,
                           "Accept a version older than --installed-version (logged)");
  write_slot_cmd->add_flag("--json", ws.json, "Print a machine-readable result");
  write_slot_cmd->footer(
      "Nothing is written unless the signature and policy pass. The slot then holds the\n"
      "squashfs image followed by its dm-verity tree. Boot state is not changed: this is the\n"
      "building block of 'upgrade' and of factory provisioning.");

  StatusArgs st;
  auto* status_cmd = app.add_subcommand(
      "status", "Show the booted slot, each slot's version and state, and the last operation");
  add_device_options(status_cmd, st.paths);
  status_cmd->add_flag("--json", st.json, "Print JSON");

  UpgradeArgs up;
  auto* upgrade_cmd = app.add_subcommand(
      "upgrade", "Install a signed bundle into the slot not running and boot it next, on trial");
  upgrade_cmd->add_option("bundle", up.options.bundle, "Bundle file or http(s):// URL")->required();
  upgrade_cmd->add_flag("--allow-downgrade", up.options.allow_downgrade,
                        "Accept a version older than the running one (logged; the "
                        "anti-rollback floor still applies)");
  upgrade_cmd->add_flag("--reboot", up.reboot, "Reboot into the new slot when done");
  upgrade_cmd->add_flag("--progress", up.progress, "Print a line per 5 % of the payload written");
  upgrade_cmd->add_flag("--json", up.json,
                        "Print a machine-readable result on stdout (the log goes to stderr)");
  add_device_options(upgrade_cmd, up.paths);
  upgrade_cmd->footer(
      "Order: signatures (the image's keyring), compatible, version floor; only then is the\n"
      "other slot taken out of the boot order and written, read back and verified; then its\n"
      "kernel and initrd go to the ESP, and one atomic grubenv write makes it boot next with\n"
      "the configured tries. A URL is streamed, never stored, and resumed after drops.");

  SimpleArgs bt;
  auto* boot_cmd = app.add_subcommand(
      "boot", "At boot: health-check a slot on trial, then mark it good, or bad and reboot");
  boot_cmd->add_flag("--no-reboot", bt.no_reboot,
                     "Do not reboot after marking a slot bad (exit status 3 instead)");
  add_device_options(boot_cmd, bt.paths);
  boot_cmd->footer(
      "Run by edgeforge-boot.service. Health checks come from agent.json "
      "(spec.agent.health).");

  SimpleArgs mg;
  auto* mark_good_cmd =
      app.add_subcommand("mark-good", "Mark the running slot good without health checks");
  add_device_options(mark_good_cmd, mg.paths);

  SimpleArgs rb;
  auto* rollback_cmd =
      app.add_subcommand("rollback", "Boot the other slot (which must be good) next, and reboot");
  rollback_cmd->add_flag("--mark-bad", rb.mark_bad, "Also take the running slot out of service");
  rollback_cmd->add_flag("--no-reboot", rb.no_reboot, "Do not reboot now");
  add_device_options(rollback_cmd, rb.paths);
  InstallCommand install_cmd = add_install_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*write_slot_cmd) return run_write_slot(ws);
    if (*status_cmd) return run_status(st);
    if (*upgrade_cmd) return run_upgrade(up);
    if (*boot_cmd) return run_boot(bt);
    if (*mark_good_cmd) return run_mark_good(mg);
    if (*rollback_cmd) return run_rollback(rb);
    if (*install_cmd.command) return install_cmd.run();
    std::cerr << app.help() << "\nedgeforge-agent: error: a command is required\n";
    return 2;
  } catch (const std::exception& e) {
    return fail(Error(Errc::internal, std::string("unexpected failure: ") + e.what()), false);
  }
}

}  // namespace ef::agent
