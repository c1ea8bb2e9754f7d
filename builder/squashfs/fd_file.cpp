#include "builder/squashfs/fd_file.hpp"

#include <fcntl.h>
#include <sqfs/error.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "util/file_io.hpp"

namespace ef::squashfs {

namespace {

// sqfs_file_t must come first: libsquashfs passes the object around by its
// base pointer, and the callbacks cast it back.
struct FdFile {
  sqfs_file_t base;
  int fd;
  sqfs_u64 size;     // bytes in the file (libsquashfs asks often; no fstat each time)
  sqfs_u64 flushed;  // writeback started up to here
  ImageWriteObserver* observer;
};

// The image is written front to back; every kWritebackStep bytes the disk
// is asked to start writing what came before (without waiting), so that
// the fsync at the end finds little left: at zstd 3 the disk write of a
// 220 MB image then overlaps compression instead of adding 0.3 s after it.
constexpr sqfs_u64 kWritebackStep = 8u << 20;

FdFile* self(sqfs_file_t* f) {
  return reinterpret_cast<FdFile*>(f);
}
const FdFile* self(const sqfs_file_t* f) {
  return reinterpret_cast<const FdFile*>(f);
}

// Short transfers and EINTR are retried by util's pread_all/pwrite_all; their
// messages have nowhere to go, libsquashfs takes an error code.
int read_at(sqfs_file_t* f, sqfs_u64 offset, void* buffer, size_t size) {
  if (offset > self(f)->size || size > self(f)->size - offset) return SQFS_ERROR_OUT_OF_BOUNDS;
  return pread_all(self(f)->fd, buffer, size, offset, {}) ? 0 : SQFS_ERROR_IO;
}

int write_at(sqfs_file_t* f, sqfs_u64 offset, const void* buffer, size_t size) {
  FdFile* file = self(f);
  if (!pwrite_all(file->fd, buffer, size, offset, {})) return SQFS_ERROR_IO;
  if (file->observer) file->observer->written(offset, buffer, size);
  if (offset + size > file->size) file->size = offset + size;
  if (file->size - file->flushed >= kWritebackStep) {
    // A hint: where it fails (not a regular file) the fsync does the work.
    (void)::sync_file_range(file->fd, static_cast<off_t>(file->flushed),
                            static_cast<off_t>(file->size - file->flushed), SYNC_FILE_RANGE_WRITE);
    file->flushed = file->size;
  }
  return 0;
}

sqfs_u64 get_size(const sqfs_file_t* f) {
  return self(f)->size;
}

int truncate_to(sqfs_file_t* f, sqfs_u64 size) {
  int rc;
  do {
    rc = ::ftruncate(self(f)->fd, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return SQFS_ERROR_IO;
  if (self(f)->observer) self(f)->observer->truncated(size);
  self(f)->size = size;
  if (self(f)->flushed > size) self(f)->flushed = size;
  return 0;
}

void destroy(sqfs_object_t* obj) {
  std::free(obj);
}

// An output file cannot be duplicated; nullptr is libsquashfs's "cannot".
sqfs_object_t* copy(const sqfs_object_t*) {
  return nullptr;
}

}  // namespace

sqfs_file_t* fd_file_create(int fd, ImageWriteObserver* observer) {
  // calloc, like libsquashfs's own objects: sqfs_destroy frees with free().
  auto* f = static_cast<FdFile*>(std::calloc(1, sizeof(FdFile)));
  if (f == nullptr) return nullptr;
  f->base.base.destroy = &destroy;
  f->base.base.copy = &copy;
  f->base.read_at = &read_at;
  f->base.write_at = &write_at;
  f->base.get_size = &get_size;
  f->base.truncate = &truncate_to;
  f->fd = fd;
  f->observer = observer;
  struct stat st {};
  f->size = ::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<sqfs_u64>(st.st_size) : 0;
  return &f->base;
}

}  // namespace ef::squashfs
