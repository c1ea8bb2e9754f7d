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

/// "A" -> "B" and back.
std::string other_slot(const std::string& slot);

/// The slot GRUB booted: edgeforge.slot=A|B on the kernel command line in
/// `cmdline_file`; "" when absent (not booted by edgeforge's boot script).
std::string booted_slot(const std::filesystem::path& cmdline_file);

/// Mounts the ESP (PARTLABEL edgeforge-esp) at `mountpoint` unless
/// `mountpoint` already holds grub/grubenv. Returns `mountpoint`.
Result<std::filesystem::path> ensure_esp_mounted(const std::filesystem::path& mountpoint);

class BootControl {
 public:
  /// `esp` is the mounted ESP's root (holding grub/grubenv).
  explicit BootControl(std::filesystem::path esp) : esp_(std::move(esp)) {}

  const std::filesystem::path& esp() const { return esp_; }
  std::filesystem::path grubenv_path() const { return esp_ / "grub" / "grubenv"; }
  /// The ESP directory holding `slot`'s boot files ("slot-a", "slot-b").
  std::filesystem::path slot_dir(const std::string& slot) const;

  Result<device::SlotState> read() const;
  /// Replaces grubenv atomically with `state` (other variables in the file
  /// are kept) and reads it back.
  Result<void> write(const device::SlotState& state) const;

 private:
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
