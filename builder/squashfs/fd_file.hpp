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

namespace ef::squashfs {

/// Returns a new sqfs_file_t writing to and reading from `fd` (not owned: the
/// descriptor must outlive the object, which sqfs_destroy frees), or nullptr
/// when out of memory.
sqfs_file_t* fd_file_create(int fd);

}  // namespace ef::squashfs
