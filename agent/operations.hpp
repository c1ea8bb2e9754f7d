// What edgeforge-agent does on a device (docs/agent.md):
//   upgrade    bundle -> the slot not booted, verified, its boot files on the
//              ESP, then one atomic grubenv write puts it on trial
//   boot_check at every boot: a slot on trial runs the health checks, then
//              is marked good, or bad and the device reboots into the other
//   mark_good, rollback  the operator's overrides
// Every step is journaled before it starts (agent/state.hpp), and no step
// leaves GRUB pointing at a slot that is not completely written.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "agent/device.hpp"
#include "agent/slot_install.hpp"

namespace ef::agent {

struct UpgradeOptions {
  std::string bundle;  // path or http(s) URL
  bool allow_downgrade = false;
  HttpStreamOptions http;
  WriteProgress progress;
  /// A bundle head must be exactly this file (what a channel names).
  std::optional<ExpectedFile> expected_head;
  /// Called with the signed manifest before anything is written; an error
  /// refuses the bundle (a channel checks it is the release it names).
  std::function<Result<void>(const signing::BundleManifest&)> accept;
};

struct UpgradeResult {
  std::string slot;
  SlotInstallResult install;
  double boot_files_seconds = 0;
};

Result<UpgradeResult> upgrade(Device& device, const UpgradeOptions& options, const Log& log);

enum class BootOutcome {
  none,         // nothing on trial (or not an edgeforge boot)
  marked_good,  // the slot on trial passed its checks
  marked_bad,   // it failed them: the caller reboots into the other slot
};

/// Runs at every boot (edgeforge-boot.service).
Result<BootOutcome> boot_check(Device& device, const Log& log);

/// Marks the booted slot good (operator override of the health checks).
Result<void> mark_good(Device& device, const Log& log);

/// Makes the other slot, which must be good, the one GRUB boots next;
/// `mark_bad` also takes the booted slot out of service.
Result<void> rollback(Device& device, bool mark_bad, const Log& log);

/// Copies the kernel, initrd and initramfs addition of the image in `slot`
/// into `dir` on the ESP, checking them against the bundle's manifest.
Result<void> install_boot_files(const std::filesystem::path& slot,
                                const signing::BundleManifest& manifest,
                                const std::filesystem::path& dir);

/// Where the builder puts the image's initramfs addition (docs/agent.md).
inline constexpr const char* kImageInitramfsAddition = "/usr/lib/edgeforge/boot/edgeforge.cpio";

}  // namespace ef::agent
