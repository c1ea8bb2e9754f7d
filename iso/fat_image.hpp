// FAT filesystem images (the ESP) made with mtools, without mounting and
// without root. Reproducible: mtools stamps SOURCE_DATE_EPOCH, the volume id
// is given, files are added in sorted order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::iso {

struct FatFile {
  std::string path;  // "/EFI/BOOT/BOOTX64.EFI"
  std::string content;
};

struct FatSpec {
  uint64_t size = 0;       // bytes, a multiple of 1 MiB
  std::string label;       // up to 11 characters
  uint32_t volume_id = 0;  // the serial number, shown as XXXX-XXXX
  int64_t epoch = 0;       // timestamps of every entry
  std::vector<FatFile> files;
};

/// Smallest size in whole MiB (plus headroom for FAT tables and directories)
/// that holds `files`.
uint64_t fat_size_for(const std::vector<FatFile>& files);

/// Writes the FAT image described by `spec` to `out` (FAT32 from 64 MiB up,
/// else what mformat picks); `work_dir` holds temporary files. Errors: mtools
/// missing (install mtools), files that do not fit.
Result<void> make_fat_image(const FatSpec& spec, const std::filesystem::path& out,
                            const std::filesystem::path& work_dir);

/// The volume id as GRUB's `search --fs-uuid` spells it: "ABCD-1234".
std::string fat_uuid(uint32_t volume_id);

}  // namespace ef::iso
