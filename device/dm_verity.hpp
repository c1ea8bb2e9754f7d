// dm-verity on the device at boot: the initramfs maps the slot's squashfs
// through dm-verity with the root hash the signed boot artifact (the UKI's
// command line) carries, so every block read from the slot is checked
// against the tree the bundle signed. Talks to the kernel's device-mapper
// ioctls directly: the initramfs program that uses it (edgeforge-verity-open,
// linked statically) needs neither dmsetup nor veritysetup in the image.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef::device {

/// What the kernel needs to map a slot: the payload layout the bundle's
/// manifest describes (docs/bundle-format.md, "verity").
struct VerityTarget {
  std::string data_device;   // the slot's block device, e.g. /dev/vda2
  uint64_t data_blocks = 0;  // image size / block_size
  uint32_t block_size = 4096;
  uint64_t hash_offset = 0;  // bytes from the start of the device to the tree
  std::string root_hash_hex;
  std::string salt_hex;
  // What a block that does not match its hash does: "panic_on_corruption"
  // (the device reboots, so the boot manager's tries take it to the other
  // slot), "restart_on_corruption", or "" (the read fails with EIO).
  std::string on_corruption = "panic_on_corruption";
};

/// Checks the fields a command line or manifest gave (hex digests, sizes,
/// offsets aligned to the block size). Errors name the field.
Result<void> check_verity_target(const VerityTarget& t);

/// The device-mapper "verity" target parameters for `t`, with the data and
/// hash device given as `device` (e.g. "254:2"): format 1, sha256, the tree
/// at hash_offset / block_size, no superblock.
std::string verity_table_params(const VerityTarget& t, const std::string& device);

/// Creates the read-only device-mapper device `name` for `t` and returns
/// its node ("/dev/dm-N"). On failure nothing is left mapped.
Result<std::string> open_verity(const std::string& name, const VerityTarget& t);

/// The slot ("A" or "B") whose boot entry systemd-boot started, from the
/// contents of its LoaderEntrySelected EFI variable as efivarfs shows it
/// (4 attribute bytes, then the entry id in UTF-16LE, NUL-terminated), e.g.
/// "edgeforge-slot-b+2-1.conf" -> "B". "" when the entry is not one of
/// edgeforge's slot entries.
std::string slot_from_loader_entry(std::string_view efivar);

}  // namespace ef::device
