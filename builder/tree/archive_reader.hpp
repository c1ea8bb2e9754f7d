// A libarchive stream reader behind edgeforge's own interface: tar, tar.gz,
// tar.xz, tar.zst, tar.bz2 (detected from magic bytes), read from a file or
// from a member of an outer archive (docker-save / OCI archives). No raw
// libarchive handle leaves this module.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "builder/tree/tree.hpp"
#include "util/error.hpp"

struct archive;
struct archive_entry;

namespace ef::tree {

/// The metadata of one archive entry, decoded from libarchive.
struct ArchiveEntry {
  std::string path;
  std::string hardlink;   // non-empty: this entry is a hard link to `hardlink`
  Inode inode;            // type, mode, owner, mtime, size, rdev, target, xattrs
  bool has_data = false;  // the entry carries file data (size > 0)
  uint64_t offset = 0;    // byte offset of the entry's header in the (decompressed) stream
};

class ArchiveReader {
 public:
  /// Opens `source` (an archive file, or a member inside an outer archive).
  static Result<std::unique_ptr<ArchiveReader>> open(const SourceInfo& source);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  /// Reads the next header into `entry`; returns false at the end.
  Result<bool> next(ArchiveEntry& entry);
  /// Streams the current entry's data, zero-filling sparse holes, exactly
  /// `size` bytes in all. An error from `sink` stops the stream.
  Result<void> read_data(uint64_t size,
                         const std::function<Result<void>(const void*, size_t)>& sink);
  /// Reads the current entry's `size` bytes into memory (small metadata
  /// files only); more than `max_size` is an error.
  Result<std::string> read_all(uint64_t size, uint64_t max_size);

 private:
  ArchiveReader() = default;
  struct Outer;
  Error error(const std::string& what) const;

  std::unique_ptr<Outer> outer_;  // set when reading a member of an outer archive
  archive* a_ = nullptr;
  std::string label_;
  uint64_t index_ = 0;
};

/// Lists the member names of `path` (used to read docker-save archives).
Result<std::map<std::string, uint64_t>> list_archive_members(const std::string& path);

}  // namespace ef::tree
