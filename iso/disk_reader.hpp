// Reading A/B disk images back without root or mounts (for `edgeforge
// inspect DISK.raw` and tests): our own GPT reader, the ESP's files through
// mtools at the partition's offset. (libguestfs would also serve, but takes
// ~20 s per launch under TCG here; these readers answer in milliseconds.)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "iso/disk_image.hpp"
#include "util/error.hpp"

namespace ef::iso {

/// True when `file` starts with a protective MBR and a GPT header ("EFI PART").
bool is_gpt_disk(const std::filesystem::path& file);

/// The partitions of the GPT disk image `file`, in table order. Errors: no
/// GPT header, a table that points outside the file.
Result<std::vector<Partition>> read_gpt(const std::filesystem::path& file);

/// The content of `path` ("/grub/grubenv") in the FAT partition `part` of `disk`.
Result<std::string> read_fat_file(const std::filesystem::path& disk, const Partition& part,
                                  const std::string& path);

/// Every file path in the FAT partition `part` of `disk`, sorted.
Result<std::vector<std::string>> list_fat_files(const std::filesystem::path& disk, const Partition& part);

}  // namespace ef::iso
