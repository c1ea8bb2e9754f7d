// Reading an ext4 filesystem inside a disk image (the persistent partition)
// without root or mounts: libext2fs (e2fsprogs) opens the file at the
// partition's offset, read-only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "image/squashfs_reader.hpp"
#include "util/error.hpp"

namespace ef::iso {

/// Every entry of the ext4 filesystem that starts `offset` bytes into
/// `file`, depth-first, children in name order ("/" first). Extended
/// attributes are not read. Errors: no ext4 superblock there.
Result<std::vector<image::ImageEntry>> list_ext4(const std::filesystem::path& file,
                                                 uint64_t offset);

/// The content of the regular file `path` in that filesystem (symlinks
/// followed inside it).
Result<std::string> read_ext4_file(const std::filesystem::path& file, uint64_t offset,
                                   const std::string& path);

}  // namespace ef::iso
