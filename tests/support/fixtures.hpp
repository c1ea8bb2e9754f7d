// Generates input archives for tests with libarchive, including entries no
// well-behaved tool would write (absolute paths, "..", links that escape).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace ef::test {

struct TarEntry {
  enum class Type { file, dir, symlink, hardlink, chr, blk, fifo };
  Type type = Type::file;
  std::string path;
  std::string content;   // file data
  std::string target;    // symlink / hard link target
  uint32_t mode = 0644;  // permission bits incl. setuid/setgid/sticky
  uint32_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  uint32_t rdev_major = 0, rdev_minor = 0;
  std::map<std::string, std::string> xattrs;
  /// When > 0, the file is written sparse: `content` at this offset, zeros before.
  int64_t sparse_offset = 0;

  static TarEntry file(std::string path, std::string content, uint32_t mode = 0644);
  static TarEntry dir(std::string path, uint32_t mode = 0755);
  static TarEntry symlink(std::string path, std::string target);
  static TarEntry hardlink(std::string path, std::string target);
};

enum class TarCompression { none, gzip, zstd, xz };

/// Writes a pax tar with `entries` in the given order to `out`.
/// Text-like content of `size` bytes (words, numbers, newlines; compresses
/// about 3:1, like much of a root filesystem), from `rng`.
std::string word_text(std::mt19937_64& rng, size_t size);

void write_tar(const std::filesystem::path& out, const std::vector<TarEntry>& entries,
               TarCompression compression = TarCompression::none);

}  // namespace ef::test
