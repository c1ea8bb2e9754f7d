// edgeforge-agent write-slot: verify a bundle and write its image into one slot.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/slot_install.hpp"

namespace ef::agent {
namespace {

struct WriteSlotArgs {
  SlotInstallOptions options;
  std::string min_version, installed_version;
  bool json = false;
};

int run_write_slot(WriteSlotArgs& a) {
  auto floor = SemVer::parse_option(a.min_version, "--min-version");
  if (!floor) return fail(floor.error(), a.json);
  auto installed = SemVer::parse_option(a.installed_version, "--installed-version");
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

}  // namespace

cmdline::Command add_write_slot_command(CLI::App& app) {
  auto a = std::make_shared<WriteSlotArgs>();
  auto* cmd = app.add_subcommand(
      "write-slot", "Verify a bundle and write its image into one slot, then read it back");
  cmd->add_option("bundle", a->options.bundle, "Bundle file or http(s):// URL")->required();
  cmd->add_option("--slot", a->options.slot, "Slot partition or preallocated file")->required();
  cmd->add_option("--keyring", a->options.keyring,
                  "Trusted public keys (*.pub) and the 'revoked' list")
      ->required();
  cmd->add_option("--compatible", a->options.policy.compatible, "This device's compatible string");
  cmd->add_option("--min-version", a->min_version, "Anti-rollback floor");
  cmd->add_option("--installed-version", a->installed_version, "Refuse versions older than this");
  cmd->add_flag("--allow-downgrade", a->options.policy.allow_downgrade,
                "Accept a version older than --installed-version (logged)");
  cmd->add_flag("--json", a->json, "Print a machine-readable result");
  cmd->footer(
      "Nothing is written unless the signature and policy pass. The slot then holds the\n"
      "squashfs image followed by its dm-verity tree. Boot state is not changed: this is the\n"
      "building block of 'upgrade' and of factory provisioning.");

  return {cmd, [a] { return run_write_slot(*a); }};
}

}  // namespace ef::agent
