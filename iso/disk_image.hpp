// The device's A/B disk image, built from files without root, loop devices
// or mounts: GPT written by sfdisk on the image file, the ESP made with
// mtools, slot A the squashfs as is, slot B empty, the persistent partition
// an empty ext4 made by mke2fs (blank with Secure Boot: the device seals it
// at first boot). Layout: docs/disk-layout.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "device/install_manifest.hpp"
#include "iso/fat_image.hpp"
#include "iso/grub_image.hpp"
#include "iso/secure_boot.hpp"
#include "util/error.hpp"

namespace ef::iso {

inline constexpr uint64_t kMiB = 1024 * 1024;

/// Partition sizes in bytes (multiples of 1 MiB).
struct DiskLayout {
  uint64_t esp_size = 256 * kMiB;
  uint64_t slot_size = 2048 * kMiB;
  uint64_t persistent_size = 1024 * kMiB;
};

/// Partition names (GPT PARTLABELs): the initramfs finds partitions by them.
inline constexpr const char* kEspLabel = "edgeforge-esp";
inline constexpr const char* kSlotALabel = "edgeforge-slot-a";
inline constexpr const char* kSlotBLabel = "edgeforge-slot-b";
inline constexpr const char* kPersistentLabel = "edgeforge-persist";

/// Kernel arguments every boot gets besides boot=, edgeforge.slot= and ro.
// panic=10: a device that panics (kernel or initramfs) reboots after 10 s,
// so GRUB's tries can take it back to the other slot; it never sits there.
inline constexpr const char* kDefaultCmdline = "console=tty0 console=ttyS0,115200 panic=10";

struct DiskSpec {
  std::filesystem::path squashfs;  // the image for slot A
  std::string image_sha256;        // its sha256 when the caller has it (else hashed here)
  DiskLayout layout;
  int64_t epoch = 0;
  std::vector<std::string> persistent_paths;  // bind-mounted state paths
  std::string cmdline = kDefaultCmdline;
  int grub_timeout = 2;  // seconds the slot menu waits
  /// Set: the Secure Boot chain (iso/secure_boot.hpp) instead of GRUB, and
  /// slot A holds the image followed by its dm-verity tree. UEFI only.
  std::optional<SecureBootSpec> secure_boot;
};

/// `known` when set, else the sha256 of `squashfs` (callers that built the
/// image pass its digest and save hashing it again).
Result<std::string> image_digest(const std::filesystem::path& squashfs, const std::string& known);

struct Partition {
  std::string name;
  uint64_t offset = 0;  // bytes from the start of the disk
  uint64_t size = 0;
  std::string guid;
};

struct DiskInfo {
  std::string disk_guid;
  uint64_t size = 0;
  std::vector<Partition> partitions;  // ESP, slot A, slot B, persistent, bios_grub
  std::string esp_uuid;               // FAT volume id "XXXX-XXXX"
};

/// The partition table `spec` produces for an image of `squashfs_size`
/// bytes. Errors: the image does not fit a slot (raise the slot size).
Result<DiskInfo> plan_disk(const DiskSpec& spec, uint64_t squashfs_size, const std::string& seed);

/// Writes the raw disk image to `out` (atomically); `work_dir` holds the
/// temporary filesystem images. Same inputs, same bytes: GUIDs, volume ids
/// and the ext4 UUID and hash seed derive from the squashfs's sha256.
Result<DiskInfo> build_raw_disk(const DiskSpec& spec, const std::filesystem::path& out,
                                const std::filesystem::path& work_dir);

/// Converts a raw image to qcow2 with qemu-img (qemu-utils).
Result<void> convert_to_qcow2(const std::filesystem::path& raw, const std::filesystem::path& out);

/// A version-4-shaped GUID derived from sha256(seed + "/" + name).
std::string derive_guid(const std::string& seed, const std::string& name);

/// Builds the ESP file list for one slot ("a" or "b") from the image at
/// `squashfs`: /slot-X/vmlinuz, /slot-X/initrd.img, /slot-X/edgeforge.cpio.
Result<std::vector<FatFile>> slot_boot_files(const std::filesystem::path& squashfs,
                                             const std::string& slot, int64_t epoch,
                                             const std::vector<std::string>& persistent_paths);

/// The ESP's files for `spec` laid out as `info`: GRUB for UEFI (its
/// embedded config finds this ESP by FAT volume id), /grub/grub.cfg, the
/// initial /grub/grubenv (slot A good) and slot A's kernel, initrd and
/// edgeforge.cpio. The raw image and the installer ISO both use it. Errors:
/// the ESP cannot hold two slots' boot files (raise spec.output.disk.espSize).
Result<std::vector<FatFile>> esp_files(const DiskSpec& spec, const DiskInfo& info,
                                       const std::filesystem::path& work_dir);

/// GRUB for BIOS firmware on a disk laid out as `info` (the same embedded
/// config as BOOTX64.EFI): boot code for the MBR and the bios_grub core.
Result<BiosBootCode> bios_boot(const DiskInfo& info, const std::filesystem::path& work_dir);

/// The FAT volume id of `info.esp_uuid` as a number (mkfs.vfat -i, mformat -N).
uint32_t esp_volume_id(const DiskInfo& info);

/// `info`'s partitions with their GPT type GUIDs (the ESP type for the ESP).
std::vector<device::PlannedPartition> planned_partitions(const DiskInfo& info);

/// The persistent ext4's UUID and directory hash seed for an image whose
/// sha256 is `seed`.
std::string persistent_fs_uuid(const std::string& seed);
std::string persistent_hash_seed(const std::string& seed);

}  // namespace ef::iso
