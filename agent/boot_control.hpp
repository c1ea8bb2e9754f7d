// The device's boot state as GRUB sees it: the A/B variables in the ESP's
// grubenv (device/slot_state.hpp, docs/disk-layout.md) and each slot's kernel,
// initrd and initramfs addition on the ESP. Every change replaces a file
// atomically (temporary name, fsync, rename, directory fsync) and is read
// back, so a power cut leaves the old or the new state, never a mix.
#pragma once

#include <filesystem>
#include <string>

#include "device/slot_state.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// Written by the initramfs under verified boot (iso/data/initramfs-edgeforge.sh).
inline constexpr const char* kBootedSlotFile = "/run/edgeforge/booted-slot";

/// "A" -> "B" and back.
std::string other_slot(const std::string& slot);

/// The slot the running system booted from: edgeforge.slot=A|B on the kernel
/// command line in `cmdline_file` (GRUB), else the first line of
/// `booted_slot_file`, which the initramfs writes under verified boot (the
/// signed kernel image's command line names no slot; systemd-boot's entry
/// does). "" when neither says (not an edgeforge boot).
std::string booted_slot(const std::filesystem::path& cmdline_file,
                        const std::filesystem::path& booted_slot_file = kBootedSlotFile);

/// Mounts the ESP (PARTLABEL edgeforge-esp) at `mountpoint` unless
/// `mountpoint` already holds grub/grubenv or systemd-boot's loader/.
/// Returns `mountpoint`.
Result<std::filesystem::path> ensure_esp_mounted(const std::filesystem::path& mountpoint);

// Two boot managers keep the same SlotState: GRUB in grubenv, and, on
// devices with Secure Boot (docs/verified-boot.md), systemd-boot in its boot
// entries' names and sort keys (device/boot_entries.hpp). Which one a device
// has is read from its ESP.
class BootControl {
 public:
  /// `esp` is the mounted ESP's root (holding grub/grubenv, or loader/entries).
  explicit BootControl(std::filesystem::path esp) : esp_(std::move(esp)) {}

  /// True when the ESP boots through systemd-boot's entries (no grubenv).
  bool uses_boot_entries() const;

  const std::filesystem::path& esp() const { return esp_; }
  std::filesystem::path grubenv_path() const { return esp_ / "grub" / "grubenv"; }
  /// The ESP directory holding `slot`'s boot files ("slot-a", "slot-b").
  std::filesystem::path slot_dir(const std::string& slot) const;

  Result<device::SlotState> read() const;
  /// Records `state`: grubenv rewritten in place (other variables in the
  /// file are kept) and read back; or each slot's entry renamed and
  /// rewritten atomically, one step at a time, so a power cut leaves the
  /// old or the new entry for each slot, never two or none.
  Result<void> write(const device::SlotState& state) const;

 private:
  Result<device::SlotState> read_entries() const;
  Result<void> write_entries(const device::SlotState& state) const;

  std::filesystem::path esp_;
};

/// Helpers over SlotState by slot name.
bool slot_ok(const device::SlotState& s, const std::string& slot);
int slot_tries(const device::SlotState& s, const std::string& slot);
void set_slot(device::SlotState& s, const std::string& slot, bool ok, int tries);
/// The slot GRUB tries first.
std::string first_slot(const device::SlotState& s);
/// Puts `slot` first in the boot order.
void prefer_slot(device::SlotState& s, const std::string& slot);

}  // namespace ef::agent
