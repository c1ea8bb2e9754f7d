// Remembers the sha256 of local input files between builds, so an unchanged
// multi-gigabyte base tarball is not hashed on every build.
//
// A file is known by its identity, as git's index knows it: device, inode,
// size, mtime and ctime in nanoseconds. Users can set mtime but not ctime,
// and any write changes both, so a changed file never matches its old entry.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "util/error.hpp"

namespace ef::fetch {

struct FileIdentity {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  /// One line, the form stored in the memo.
  std::string str() const;
  bool operator==(const FileIdentity&) const = default;
};

/// Stats `file` (following symlinks) and returns its identity.
Result<FileIdentity> file_identity(const std::filesystem::path& file);

class DigestMemo {
 public:
  /// Entries live in `dir`, one small file per input path.
  explicit DigestMemo(std::filesystem::path dir) : dir_(std::move(dir)) {}

  /// The remembered sha256 of `file` when it was recorded with exactly `identity`.
  std::optional<std::string> lookup(const std::filesystem::path& file,
                                    const FileIdentity& identity) const;
  /// Records `digest` for `file` as it was when `identity` was taken. Best
  /// effort: a memo that cannot be written only costs a later rehash.
  void remember(const std::filesystem::path& file, const FileIdentity& identity,
                const std::string& digest) const;

 private:
  std::filesystem::path entry_path(const std::filesystem::path& file) const;
  std::filesystem::path dir_;
};

}  // namespace ef::fetch
