// A libsquashfs output file over a descriptor the caller owns.
//
// libsquashfs's own sqfs_open_file() can only create a file or truncate an
// existing one by name. Images are written to an AtomicFile's temporary file,
// which already exists: reopening it with O_TRUNC makes ext4 (auto_da_alloc)
// flush every dirty page of the image when the descriptor is closed, which
// cost 0.1 s of a 2 s build. Writing through the AtomicFile's descriptor
// avoids the reopen; its commit() makes the image durable once, with fsync.
#pragma once

#include <sqfs/io.h>

#include <cstddef>
#include <cstdint>

namespace ef::squashfs {

/// Sees what libsquashfs writes into the image (the block cache learns
/// there where each block landed). Called on the writing thread.
class ImageWriteObserver {
 public:
  virtual ~ImageWriteObserver() = default;
  virtual void written(uint64_t offset, const void* data, size_t size) = 0;
  /// The file was cut to `size` bytes (libsquashfs drops a file's blocks
  /// again when an earlier file had the same ones).
  virtual void truncated(uint64_t size) = 0;
};

/// Returns a new sqfs_file_t writing to and reading from `fd` (not owned: the
/// descriptor must outlive the object, which sqfs_destroy frees), or nullptr
/// when out of memory. `observer` (not owned, may be null) sees each write.
sqfs_file_t* fd_file_create(int fd, ImageWriteObserver* observer = nullptr);

}  // namespace ef::squashfs
