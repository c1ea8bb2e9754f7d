#include "agent/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/install_cli.hpp"
#include "agent/slot_install.hpp"
#include "agent/state.hpp"
#include "util/atomic_file.hpp"

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

struct StatusArgs {
  std::string state = "/var/lib/edgeforge/agent/state.json";
  std::string cmdline = "/proc/cmdline";
  bool json = false;
};

/// The slot the running system booted from: edgeforge.slot=A|B on the
/// kernel command line (the boot script puts it there); "" when absent.
std::string booted_slot(const std::string& cmdline_file) {
  auto text = read_file(cmdline_file);
  if (!text) return "";
  std::string key = "edgeforge.slot=";
  for (size_t pos = text->find(key); pos != std::string::npos; pos = text->find(key, pos + 1)) {
    if (pos > 0 && (*text)[pos - 1] != ' ') continue;
    std::string v = text->substr(pos + key.size(), 1);
    if (v == "A" || v == "B") return v;
  }
  return "";
}

int run_status(const StatusArgs& a) {
  auto state = load_state(a.state);
  if (!state) return fail(state.error(), a.json);
  std::string booted = booted_slot(a.cmdline);
  auto slot_json = [](const SlotRecord& r) {
    return nlohmann::json{{"state", slot_health_name(r.health)},
                          {"product", r.product},
                          {"version", r.version},
                          {"imageSha256", r.image_sha256}};
  };
  nlohmann::json op = nullptr;
  if (state->operation) {
    const Operation& o = *state->operation;
    op = {{"kind", o.kind},       {"phase", o.phase},   {"slot", o.slot},
          {"version", o.version}, {"bundle", o.bundle}, {"error", o.error}};
  }
  if (a.json) {
    std::cout << nlohmann::json(
                     {{"booted", booted.empty() ? nlohmann::json(nullptr) : nlohmann::json(booted)},
                      {"slots", {{"A", slot_json(state->a)}, {"B", slot_json(state->b)}}},
                      {"floor", state->floor},
                      {"lastOperation", op}})
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "booted slot: " << (booted.empty() ? "unknown (not booted by edgeforge)" : booted)
            << "\nanti-rollback floor: " << state->floor << "\n";
  for (const char* name : {"A", "B"}) {
    const SlotRecord& r = state->slot(name);
    std::cout << "slot " << name << ": " << slot_health_name(r.health);
    if (!r.version.empty()) std::cout << "  " << r.product << " " << r.version;
    std::cout << "\n";
  }
  if (state->operation) {
    const Operation& o = *state->operation;
    std::cout << "last operation: " << o.kind << " " << o.version << " into slot " << o.slot << ": "
              << o.phase << (o.error.empty() ? "" : " (" + o.error + ")") << "\n";
  }
  return 0;
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
  auto* status_cmd =
      app.add_subcommand("status", "Show the slots, the floor and the last operation");
  status_cmd->add_option("--state", st.state, "Agent state file (default: " + st.state + ")");
  status_cmd->add_option(
      "--cmdline", st.cmdline,
      "Kernel command line to read edgeforge.slot= from (default: /proc/cmdline)");
  status_cmd->add_flag("--json", st.json, "Print JSON");

  InstallCommand install_cmd = add_install_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*write_slot_cmd) return run_write_slot(ws);
    if (*status_cmd) return run_status(st);
    if (*install_cmd.command) return install_cmd.run();
    std::cerr << app.help() << "\nedgeforge-agent: error: a command is required\n";
    return 2;
  } catch (const std::exception& e) {
    return fail(Error(Errc::internal, std::string("unexpected failure: ") + e.what()), false);
  }
}

}  // namespace ef::agent
