// Writes a tree as a squashfs image with libsquashfs.
//
// File data is streamed through libsquashfs's block processor (one
// compressor worker per core, a bounded backlog); the tree's metadata is
// serialized afterwards. The output depends only on the tree and the
// options, never on the worker count, the clock or the build directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/squashfs/block_cache.hpp"
#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::squashfs {

struct WriterOptions {
  std::string compression = "zstd";  // zstd, xz, gzip, lz4
  std::optional<int> level;          // compressor default when unset
  uint32_t block_size = 131072;
  unsigned workers = 0;  // 0: one per online CPU
  int64_t mod_time = 0;  // super block modification time
  /// When set, sees every file's data as it is written, chunk by chunk (in
  /// order, each file's chunks together), e.g. to keep a copy of one file
  /// without reading the inputs again.
  std::function<void(const tree::Inode&, std::string_view)> data_observer;
  /// When set, data and fragment blocks are taken from this cache where
  /// it has them and stored into it where not; the image is the same.
  std::shared_ptr<BlockCache> block_cache;
};

/// An extended attribute squashfs cannot store (outside the user.,
/// trusted. and security. namespaces), left out of the image.
struct DroppedXattr {
  std::string name;  // e.g. system.posix_acl_access
  std::string path;  // the entry that had it, "/etc/foo" (a hard link's first name)
};

struct ImageStats {
  uint64_t bytes = 0;  // image size (padded to 4 KiB)
  uint32_t inodes = 0;
  uint64_t data_bytes_in = 0;      // file bytes fed to the compressor
  uint64_t tail_bytes_hashed = 0;  // tail bytes hashed to find identical tails (sizes that repeat)
  std::vector<DroppedXattr> dropped_xattrs;  // in path order
  std::string sha256;                        // of the whole image file, as sha256sum prints it
};

/// Returns the names of the compressors this libsquashfs supports.
bool compressor_supported(const std::string& name);

/// Writes `tree` to `out` atomically (temporary file, fsynced and renamed on
/// success) and hashes it, while the fsync waits for the disk.
/// `progress`, when set, is called with the bytes of file data written so far.
Result<ImageStats> write_image(tree::Tree& tree, const std::filesystem::path& out,
                               const WriterOptions& options,
                               const std::function<void(uint64_t)>& progress = {});

}  // namespace ef::squashfs
