// The disk `edgeforge-agent install` writes: checks before anything is
// touched (a disk with partitions or data, the installer's own medium, a
// partition instead of a disk, too small), choosing the only internal disk
// for `target: auto`, and the partition devices after partitioning (the
// kernel's for a disk, loop devices for a disk image file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::agent {

/// What the kernel (sysfs) says about one whole disk.
struct DiskFacts {
  std::string name;   // "vda"
  uint64_t size = 0;  // bytes
  bool removable = false;
  std::vector<std::string> partition_labels;  // PARTNAME of each partition ("" when unnamed)
};

/// Facts about every whole disk under `sys_root`/block (loop, ram, zram, sr,
/// dm, md devices and disks of size 0 are left out), sorted by name.
std::vector<DiskFacts> list_disks(const std::filesystem::path& sys_root);

/// The sysfs name of the whole disk holding the file system that `path` is
/// on ("sr0", "sdb" for a partition sdb1), or "" when it is not on a block
/// device (tmpfs, overlay).
std::string disk_holding(const std::filesystem::path& path, const std::filesystem::path& sys_root);

/// `target: auto`: the only non-removable disk that is not `medium_disk`.
/// Errors name the candidates (none or several: give --target).
Result<std::string> pick_auto_target(const std::vector<DiskFacts>& disks,
                                     const std::string& medium_disk);

struct TargetCheck {
  bool wipe = false;              // partitions or signatures are allowed (they are wiped)
  bool refuse_edgeforge = false;  // an existing edgeforge install is refused even with wipe
  uint64_t min_size = 0;          // bytes the layout needs
  std::string medium_disk;        // never install onto this disk
};

/// Checks `target` (a whole disk's device node, or a disk image file) before
/// anything is written. Refused: a partition, the installer medium, a disk
/// with partitions or file system / partition table signatures (wipefs)
/// unless `wipe`, a mounted disk, a disk smaller than the layout.
Result<void> check_target(const std::filesystem::path& target, const TargetCheck& check,
                          const std::filesystem::path& sys_root = "/sys");

/// Partition devices of a partitioned target, in partition order. For a
/// block device: the kernel's nodes (waits for them, after `udevadm settle`).
/// For a file: loop devices over each partition's byte range, detached when
/// this object goes away.
class PartitionDevices {
 public:
  struct Range {
    uint64_t offset, size;
  };
  static Result<PartitionDevices> open(const std::filesystem::path& target,
                                       const std::vector<Range>& partitions,
                                       const std::filesystem::path& sys_root = "/sys");
  PartitionDevices(PartitionDevices&&) noexcept = default;
  PartitionDevices& operator=(PartitionDevices&&) noexcept = default;
  ~PartitionDevices();

  const std::vector<std::filesystem::path>& paths() const { return paths_; }

 private:
  PartitionDevices() = default;
  std::vector<std::filesystem::path> paths_;
  std::vector<std::string> loops_;  // loop devices to detach
};

}  // namespace ef::agent
