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
  std::vector<std::filesystem::path> seeds;
  std::filesystem::path kept_chunks;
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
  // Each slot's chunk index kept in --kept-chunks, named after the slot.
  auto kept = [&](const std::filesystem::path& slot) {
    return a.kept_chunks.empty() ? std::filesystem::path()
                                 : a.kept_chunks / (slot.filename().string() + ".chunks");
  };
  for (const auto& seed : a.seeds) a.options.seeds.push_back({seed, kept(seed)});
  a.options.target_chunks = kept(a.options.slot);
  auto r = install_to_slot(a.options);
  if (!r) return fail(r.error(), a.json);
  const auto& m = r->manifest;
  if (a.json) {
    nlohmann::json out = {{"ok", true},
                          {"slot", a.options.slot.string()},
                          {"product", m.product},
                          {"version", m.version.str()},
                          {"bytes", m.payload.size},
                          {"writeSeconds", r->write_seconds},
                          {"readBackSeconds", r->read_back_seconds},
                          {"keyId", r->signature.key_id}};
    if (r->delta.used) out["delta"] = delta_json(r->delta);
    std::cout << out.dump(2) << "\n";
  } else {
    if (r->delta.used) log_line(delta_summary(r->delta));
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
  cmd->add_option("bundle", a->options.bundle,
                  "Bundle (.efb), or bundle head (.efbh) with its chunk store beside it: a file or "
                  "an http(s):// URL")
      ->required();
  cmd->add_option("--slot", a->options.slot, "Slot partition or preallocated file")->required();
  cmd->add_option("--keyring", a->options.keyring,
                  "Trusted public keys (*.pub) and the 'revoked' list")
      ->required();
  cmd->add_option("--compatible", a->options.policy.compatible, "This device's compatible string");
  cmd->add_option("--min-version", a->min_version, "Anti-rollback floor");
  cmd->add_option("--installed-version", a->installed_version, "Refuse versions older than this");
  cmd->add_flag("--allow-downgrade", a->options.policy.allow_downgrade,
                "Accept a version older than --installed-version (logged)");
  cmd->add_option("--seed", a->seeds,
                  "From a bundle head (.efbh): a slot (partition or file) whose chunks may be "
                  "copied instead of fetched; repeatable");
  cmd->add_option("--kept-chunks", a->kept_chunks,
                  "Keep each slot's chunk index in this directory (SLOTNAME.chunks), as the agent "
                  "keeps them beside its journal, so the next delta install need not read the "
                  "slots to know what they hold");
  cmd->add_flag("--json", a->json, "Print a machine-readable result");
  cmd->footer(
      "Nothing is written unless the signature and policy pass. The slot then holds the\n"
      "squashfs image followed by its dm-verity tree. Boot state is not changed: this is the\n"
      "building block of 'upgrade' and of factory provisioning.");

  return {cmd, [a] { return run_write_slot(*a); }};
}

}  // namespace ef::agent
