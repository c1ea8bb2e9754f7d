// Files that must never be seen half-written: data goes to a temporary name
// next to the target and is renamed over it only on commit().
#pragma once

#include <filesystem>
#include <string_view>

#include "util/error.hpp"

namespace ef {

class AtomicFile {
 public:
  /// Opens a temporary file beside `target` (same directory, so rename is
  /// atomic). Parent directories are created.
  static Result<AtomicFile> create(const std::filesystem::path& target);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();

  /// File descriptor of the temporary file, for writers that need one.
  int fd() const { return fd_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& target() const { return target_; }

  /// Appends `data` to the temporary file.
  Result<void> write(std::string_view data);
  /// fsyncs, closes and renames the temporary file over the target, then
  /// fsyncs the directory so the new name survives a power cut.
  Result<void> commit();

 private:
  AtomicFile(std::filesystem::path target, std::filesystem::path temp, int fd)
      : target_(std::move(target)), temp_(std::move(temp)), fd_(fd) {}
  void discard();

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
};

/// Writes `data` to `target` atomically.
Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view data);

/// Writes out everything pending on the filesystem that holds `path`
/// (syncfs): data, directories and allocation tables, for filesystems such
/// as FAT where fsync of a file and its directory does not cover them all.
Result<void> sync_filesystem(const std::filesystem::path& path);

/// Reads a whole file into a string.
Result<std::string> read_file(const std::filesystem::path& path);

}  // namespace ef
