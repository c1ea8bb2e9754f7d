#include "agent/operations.hpp"

#include <chrono>

#include "agent/delta_install.hpp"
#include "agent/health.hpp"
#include "agent/kernel_image.hpp"
#include "image/squashfs_reader.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::agent {

namespace fs = std::filesystem;

namespace {

// "phase boot-files: ": the log line a phase starts with (tests cut power on it).
std::string phase_log(OperationPhase phase) {
  return std::string("phase ") + operation_phase_name(phase) + ": ";
}

Result<std::optional<SemVer>> parse_optional(const std::string& text) {
  if (text.empty()) return std::optional<SemVer>{};
  EF_ASSIGN(SemVer v, SemVer::parse(text));
  return std::optional<SemVer>(v);
}

/// Raises the device's anti-rollback floor to what `slot`'s bundle asked for.
void adopt_floor(AgentState& s, const SlotRecord& slot, const Log& log) {
  auto wanted = SemVer::parse(slot.min_version);
  auto current = SemVer::parse(s.floor);
  if (wanted && (!current || *current < *wanted)) {
    s.floor = wanted->str();
    log("anti-rollback floor raised to " + s.floor);
  }
}

Result<void> copy_checked(image::ImageReader& image, const std::string& path,
                          const fs::path& target, const std::string& want_sha256) {
  EF_ASSIGN(AtomicFile out, AtomicFile::create(target));
  Sha256 hash;
  EF_TRY(image.read_file(path, [&](const void* data, size_t size) -> Result<void> {
    hash.update(data, size);
    return out.write(std::string_view(static_cast<const char*>(data), size));
  }));
  std::string got = hash.hex_digest();
  if (!want_sha256.empty() && got != want_sha256) {
    return Error(Errc::checksum,
                 path + " in the slot has sha256 " + got + ", the manifest says " + want_sha256);
  }
  return out.commit();
}

Result<void> switch_to(Device& d, const std::string& slot, int tries) {
  EF_ASSIGN(device::SlotState grub, d.boot().read());
  set_slot(grub, slot, false, tries);
  prefer_slot(grub, slot);
  return d.boot().write(grub);
}

// Where and under which policy (compatible, anti-rollback floor, no
// downgrade from `installed`) the upgrade writes the bundle into `target`.
Result<SlotInstallOptions> install_options(Device& d, const UpgradeOptions& o,
                                           const std::string& target,
                                           const std::string& installed) {
  SlotInstallOptions in;
  in.bundle = o.bundle;
  in.slot = d.paths().slot(target);
  // A delta install (.efbh) reuses what the booted slot holds; each slot's
  // chunk index is kept beside the journal (agent/slot_chunks.hpp).
  if (std::string booted = d.booted(); !booted.empty() && booted != target)
    in.seeds.push_back({d.paths().slot(booted), d.paths().slot_chunks(booted)});
  in.target_chunks = d.paths().slot_chunks(target);
  in.keyring = d.config().keyring;
  in.http = o.http;
  in.progress = o.progress;
  in.expected_head = o.expected_head;
  in.policy.compatible = d.config().compatible;
  EF_ASSIGN(in.policy.min_version, parse_optional(d.state().floor));
  EF_ASSIGN(in.policy.installed_version, parse_optional(installed));
  in.policy.allow_downgrade = o.allow_downgrade;
  return in;
}

// After the image is in slot `target`: its boot files, then the switch, each
// phase journaled before it starts. The caller records a failure.
Result<void> boot_files_and_switch(Device& d, const std::string& target, const UpgradeOptions& o,
                                   UpgradeResult& result, const Log& log) {
  AgentState& s = d.state();
  const signing::BundleManifest& m = result.install.manifest;
  s.operation->phase = OperationPhase::boot_files;
  EF_TRY(d.save());
  const bool secure_boot = d.boot().uses_boot_entries();
  log(phase_log(OperationPhase::boot_files) +
      (secure_boot ? "signed kernel image to " : "kernel and initrd to ") +
      d.boot().slot_dir(target).string());
  auto t0 = std::chrono::steady_clock::now();
  auto files = secure_boot
                   ? install_kernel_image(o.bundle, o.http, m, d.boot().slot_dir(target))
                   : install_boot_files(d.paths().slot(target), m, d.boot().slot_dir(target));
  if (!files) return std::move(files).error().with_context("slot " + target + " boot files");
  result.boot_files_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The record is complete before the switch so that recovery after a cut
  // in "switching" only has to decide trial-or-empty from grubenv.
  const signing::Attachment* sbom = m.attachment("sbom");
  s.slot(target) = SlotRecord{SlotHealth::empty, m.product,           m.version.str(),
                              m.image.sha256,    m.min_version.str(), sbom ? sbom->sha256 : ""};
  s.operation->phase = OperationPhase::switching;
  EF_TRY(d.save());
  log(phase_log(OperationPhase::switching) + "slot " + target + " boots next");
  EF_TRY(switch_to(d, target, d.config().tries));
  s.slot(target).health = SlotHealth::trial;
  s.operation->phase = OperationPhase::done;
  EF_TRY(d.save());
  log("slot " + target + " holds " + m.product + " " + m.version.str() +
      "; it boots next, on trial (" + std::to_string(d.config().tries) + " tries)");
  return Ok{};
}

}  // namespace

Result<void> install_boot_files(const fs::path& slot, const signing::BundleManifest& m,
                                const fs::path& dir) {
  EF_ASSIGN(auto image, image::ImageReader::open(slot));
  // The slot is out of the boot order while this runs, so its old files can
  // go first: the ESP then needs room for one set per slot, not more.
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "creating " + dir.string() + ": " + ec.message());
  int initrds = 0;
  for (const signing::BootFile& f : m.boot) {
    std::string name;
    if (f.role == "kernel") {
      name = "vmlinuz";
    } else if (f.role == "initrd" && initrds++ == 0) {
      name = "initrd.img";
    } else {
      return Error(Errc::bad_bundle, "boot file " + f.path + " (" + f.role +
                                         "): the ESP layout holds one kernel and one initrd");
    }
    EF_TRY(copy_checked(*image, f.path, dir / name, f.sha256));
  }
  auto extra = copy_checked(*image, kImageInitramfsAddition, dir / "edgeforge.cpio", "");
  if (!extra) {
    return Error(Errc::bad_bundle, std::string("the image has no ") + kImageInitramfsAddition +
                                       " (" + extra.error().message() +
                                       "); rebuild it with this edgeforge, which adds it");
  }
  // The switch must not reach the disk before these files do: GRUB reads
  // the FAT as a cut left it. fsync of each file and of its directory does
  // not cover the recreated directory's entry in the ESP's root, nor the FAT
  // sectors the removal freed; a power-cut test caught GRUB finding a
  // truncated /slot-b/vmlinuz right after the switch. syncfs writes it all.
  return sync_filesystem(dir);
}

Result<UpgradeResult> upgrade(Device& d, const UpgradeOptions& o, const Log& log) {
  const std::string booted = d.booted();
  if (booted.empty()) {
    return Error(Errc::refused,
                 "not booted from an edgeforge slot (no edgeforge.slot= on the kernel command "
                 "line); upgrade runs on an installed device");
  }
  const std::string target = other_slot(booted);
  const bool secure_boot = d.boot().uses_boot_entries();
  if (secure_boot && is_bundle_head(o.bundle)) {
    // The slot boots only through the signed kernel image the bundle
    // carries after its payload; chunk stores do not hold attachments yet.
    return Error(Errc::refused,
                 "this device boots signed kernel images (Secure Boot): install the full bundle "
                 "(.efb), not a bundle head, which does not carry the kernel image yet "
                 "(docs/verified-boot.md)");
  }
  EF_ASSIGN(device::SlotState grub, d.boot().read());
  if (!slot_ok(grub, booted)) {
    return Error(Errc::refused, "the running slot " + booted +
                                    " is still on trial; wait for its health check "
                                    "(edgeforge-boot.service) or run 'edgeforge-agent mark-good'");
  }
  AgentState& s = d.state();
  std::string installed =
      s.slot(booted).version.empty() ? d.config().version : s.slot(booted).version;
  EF_ASSIGN(SlotInstallOptions in, install_options(d, o, target, installed));

  Operation op{"upgrade", OperationPhase::writing, target, o.bundle, "", ""};
  in.on_accepted = [&](const signing::BundleManifest& m) -> Result<void> {
    if (o.accept) EF_TRY(o.accept(m));
    if (secure_boot && m.attachment(kKernelImageRole) == nullptr)
      return Error(Errc::refused,
                   "this device boots signed kernel images (Secure Boot) and the bundle carries "
                   "none; build it from a profile with spec.secureBoot (docs/verified-boot.md)");
    if (o.allow_downgrade && in.policy.installed_version &&
        m.version < *in.policy.installed_version) {
      log("DOWNGRADE allowed by the operator: " + installed + " -> " + m.version.str());
    }
    op.version = m.version.str();
    // Journal first, then take the target out of the boot order, then write:
    // GRUB must never choose a slot that is being overwritten.
    s.slot(target) = SlotRecord{};
    s.operation = op;
    EF_TRY(d.save());
    device::SlotState g = grub;
    set_slot(g, target, false, 0);
    prefer_slot(g, booted);
    EF_TRY(d.boot().write(g));
    log("writing " + m.product + " " + op.version + " into slot " + target);
    return {};
  };
  in.on_written = [&]() -> Result<void> {
    s.operation->phase = OperationPhase::verifying;
    EF_TRY(d.save());
    log(phase_log(OperationPhase::verifying) + "reading slot " + target + " back");
    return {};
  };
  auto fail = [&](Error e) -> Error {
    if (s.operation && !s.operation->finished() && s.operation->slot == target) {
      s.operation->phase = OperationPhase::failed;
      s.operation->error = e.message();
      s.slot(target) = SlotRecord{};
      (void)d.save();
    }
    return e;
  };
  auto installed_r = install_to_slot(in);
  if (!installed_r) return fail(std::move(installed_r).error());
  UpgradeResult result{target, std::move(*installed_r), 0};
  if (auto r = boot_files_and_switch(d, target, o, result, log); !r)
    return fail(std::move(r).error());
  return result;
}

Result<void> mark_good(Device& d, const Log& log) {
  const std::string slot = d.booted();
  if (slot.empty()) return Error(Errc::refused, "not booted from an edgeforge slot");
  EF_ASSIGN(device::SlotState grub, d.boot().read());
  if (!slot_ok(grub, slot)) {
    set_slot(grub, slot, true, 0);
    EF_TRY(d.boot().write(grub));
  }
  AgentState& s = d.state();
  s.slot(slot).health = SlotHealth::good;
  adopt_floor(s, s.slot(slot), log);
  EF_TRY(d.save());
  log("slot " + slot + " (" + s.slot(slot).version + ") marked good");
  return {};
}

Result<BootOutcome> boot_check(Device& d, const Log& log) {
  const std::string slot = d.booted();
  if (slot.empty()) {
    log("not booted from an edgeforge slot (live or rescue system): nothing to check");
    return BootOutcome::none;
  }
  AgentState& s = d.state();
  EF_ASSIGN(device::SlotState grub, d.boot().read());
  const std::string other = other_slot(slot);
  if (slot_ok(grub, slot)) {
    // After a fallback GRUB still lists the failed slot first: put the
    // running one first again so the next boot does not pass through it.
    bool fell_back =
        first_slot(grub) != slot && !slot_ok(grub, other) && slot_tries(grub, other) == 0;
    if (fell_back) prefer_slot(grub, slot);
    // systemd-boot counted this boot of a confirmed slot too (-good+LEFT):
    // a healthy boot re-arms the counter (device/boot_entries.hpp).
    if (fell_back || d.boot().uses_boot_entries()) EF_TRY(d.boot().write(grub));
    log("slot " + slot + " (" + s.slot(slot).version + ") is good");
    return BootOutcome::none;
  }
  log("slot " + slot + " (" + s.slot(slot).version + ") is on trial: running health checks");
  auto healthy = run_health_checks(d.config().health, log);
  if (healthy) {
    EF_TRY(mark_good(d, log));
    return BootOutcome::marked_good;
  }
  log(healthy.error().message());
  if (!slot_ok(grub, other)) {
    // Never take away the only slot that boots.
    log("slot " + other + " is not good either: staying on slot " + slot);
    return Error(healthy.error().code(), healthy.error().message() + "; slot " + other +
                                             " is not good either, so slot " + slot + " stays");
  }
  set_slot(grub, slot, false, 0);
  prefer_slot(grub, other);
  EF_TRY(d.boot().write(grub));
  s.slot(slot).health = SlotHealth::bad;
  s.operation = Operation{"health", OperationPhase::failed, slot,
                          "",       s.slot(slot).version,   healthy.error().message()};
  EF_TRY(d.save());
  log("slot " + slot + " marked bad; rebooting into slot " + other);
  return BootOutcome::marked_bad;
}

Result<void> rollback(Device& d, bool mark_bad, const Log& log) {
  const std::string slot = d.booted();
  if (slot.empty()) return Error(Errc::refused, "not booted from an edgeforge slot");
  const std::string other = other_slot(slot);
  EF_ASSIGN(device::SlotState grub, d.boot().read());
  AgentState& s = d.state();
  if (!slot_ok(grub, other)) {
    return Error(Errc::refused, "slot " + other + " is " + slot_health_name(s.slot(other).health) +
                                    ", not good: there is nothing to roll back to");
  }
  prefer_slot(grub, other);
  if (mark_bad) set_slot(grub, slot, false, 0);
  EF_TRY(d.boot().write(grub));
  if (mark_bad) s.slot(slot).health = SlotHealth::bad;
  s.operation = Operation{"rollback", OperationPhase::done, other, "", s.slot(other).version, ""};
  EF_TRY(d.save());
  log("slot " + other + " (" + s.slot(other).version + ") boots next" +
      (mark_bad ? "; slot " + slot + " marked bad" : ""));
  return {};
}

}  // namespace ef::agent
