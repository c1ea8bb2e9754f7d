// The Secure Boot boot chain of a disk image (docs/verified-boot.md):
// firmware -> systemd-boot (signed) -> one unified kernel image per slot
// (signed: systemd's stub + kernel + initrd + edgeforge.cpio + a command
// line holding the slot's dm-verity root hash). The firmware checks every
// EFI binary against its db, and the stub ignores command lines given from
// outside when Secure Boot is on, so nothing on the ESP that is not signed
// can change what boots. A/B state lives in the boot entries' names
// (systemd-boot's boot counting, "+TRIES" suffixes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "iso/fat_image.hpp"
#include "util/error.hpp"

namespace ef::iso {

/// Debian's systemd-boot-efi package.
inline constexpr const char* kSystemdBootEfi = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
inline constexpr const char* kLinuxStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

/// Where the slot's dm-verity tree is and what its root hash is: the
/// values a bundle's manifest carries under "verity".
struct SlotVerity {
  std::string root_hash_hex;
  std::string salt_hex;
  uint64_t data_blocks = 0;  // 4096-byte blocks of the image
  uint64_t hash_offset = 0;  // bytes from the slot's start to the tree
};

/// Signs a PE/COFF image for Secure Boot (Authenticode), returning the
/// signed bytes. The builder passes the operator's db key here.
using SignPe = std::function<Result<std::string>(std::string_view pe)>;

struct SecureBootSpec {
  SignPe sign;
  SlotVerity verity;
  std::filesystem::path verity_tree;  // the tree's bytes, written after the image in the slot
  /// The slot's signed kernel image when the caller made it already
  /// (signed_kernel_image); empty: made here.
  std::filesystem::path kernel_image;
  std::filesystem::path systemd_boot = kSystemdBootEfi;
  std::filesystem::path stub = kLinuxStub;
  /// The persistent partition is LUKS2 sealed to the TPM; true: a device
  /// without a TPM keeps it unencrypted (with a warning) instead of
  /// refusing to boot (spec.secureBoot.withoutTpm).
  bool plain_without_tpm = false;
};

/// The command line a slot's kernel image carries: boot=edgeforge, the
/// verity parameters, edgeforge.persist= (tpm2 or tpm2-or-plain), then
/// `extra` (console, panic=...).
std::string uki_cmdline(const SecureBootSpec& sb, const std::string& extra);

/// /loader/loader.conf: no menu, no editor, no automatic entries.
std::string loader_conf();

/// The signed unified kernel image for a slot holding the image at
/// `squashfs`, booting with `cmdline`. Errors: no kernel or initramfs
/// addition in the image (Secure Boot needs the agent layer), the stub
/// missing (install systemd-boot-efi), the signer failing.
Result<std::string> signed_kernel_image(const std::filesystem::path& squashfs,
                                        const SecureBootSpec& sb, const std::string& cmdline,
                                        const std::filesystem::path& work_dir);

/// The ESP's files for a new disk whose slot A holds `squashfs`: signed
/// systemd-boot as the removable-media loader, loader.conf, slot A's entry
/// (confirmed) and its signed kernel image.
Result<std::vector<FatFile>> secure_boot_esp_files(const std::filesystem::path& squashfs,
                                                   const SecureBootSpec& sb,
                                                   const std::string& extra_cmdline,
                                                   const std::filesystem::path& work_dir);

}  // namespace ef::iso
