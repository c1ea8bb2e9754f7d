// An archive's entries (every header, in order, as ArchiveReader decodes
// them) kept in a file beside the build cache, so that a later build of the
// same archive makes its tree without reading the archive: for a 676 MB
// Debian base the tree pass read and parsed every header (0.1 s, the whole
// stream for a compressed tarball); the index is about 1 MB.
//
// An index is named by the archive's sha256 and used only when the build
// knows that digest (a tarball the digest memo recognises, a download
// checked against its pinned digest, an mmdebstrap base). The data pass
// still reads the archive itself and checks every entry it streams against
// the tree, so an index that does not describe the archive is an error,
// never other bytes in the image. A damaged index (checksum, truncation)
// is found when read; the archive is then read as without one.
//
// Format (little-endian): "EFTREE\1\n", entry count (u64), XXH3-64 of the
// body (u64); then per entry: type (u8), has_data (u8), mode, uid, gid
// (u32 each), mtime (i64), size, rdev, header offset (u64 each), path,
// hard-link target, symlink target (u32 length + bytes each), xattr count
// (u32) and each xattr's name and value (u32 length + bytes each).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "builder/tree/archive_reader.hpp"
#include "util/error.hpp"

namespace ef::tree {

/// Builds an index one entry at a time.
class EntryIndexWriter {
 public:
  EntryIndexWriter();
  void add(const ArchiveEntry& entry);
  /// The whole index (header included); the writer is empty afterwards.
  std::string finish();

 private:
  std::string body_;
  uint64_t count_ = 0;
};

/// Reads an index one entry at a time. Every length and value is checked
/// against the bytes there are; nothing in an index can make it read past
/// its end or allocate more than its own size.
class EntryIndexReader {
 public:
  /// Checks the header, the entry count's plausibility and the checksum.
  /// `what` names the index in errors.
  static Result<EntryIndexReader> open(std::string_view bytes, std::string what);
  /// The next entry; false after the last one (when the body is used up
  /// exactly; bytes left over are an error).
  Result<bool> next(ArchiveEntry& entry);
  uint64_t count() const { return count_; }

 private:
  EntryIndexReader(std::string_view body, uint64_t count, std::string what)
      : body_(body), count_(count), what_(std::move(what)) {}
  Error damaged(const std::string& why) const;

  std::string_view body_;
  uint64_t count_ = 0;
  uint64_t read_ = 0;
  size_t at_ = 0;
  std::string what_;
};

/// How apply_archive_indexed made the archive's part of the tree.
enum class EntryIndexUse : uint8_t {
  read_archive,  // read the archive (no index, or a damaged one), wrote no index
  wrote_index,   // read the archive and kept its index for next time
  used_index,    // from the index; the archive was not read
};

/// How many entry indexes a directory keeps: the most recently used (a
/// Debian base's is about 1.7 MB). A build that writes one removes the rest.
constexpr size_t kKeptEntryIndexes = 32;

/// Removes all but the `keep` most recently used indexes (modification
/// time; a build that reads one touches it) from `dir`, and temporary files
/// older than an hour (a build killed while writing one). Returns how many
/// files it removed; a file it cannot remove is left (another build may
/// hold it, or be about to use it).
size_t bound_entry_indexes(const std::filesystem::path& dir, size_t keep = kKeptEntryIndexes);

/// apply_archive, through the index at `index_file` (named by the archive's
/// digest, which the caller knows): reads the index when there is a good
/// one, else the archive, keeping its index (written to a temporary name
/// and renamed; a failure to keep it is a warning, not a failed build).
Result<EntryIndexUse> apply_archive_indexed(Tree& tree, SourceInfo source,
                                            const std::filesystem::path& index_file);

}  // namespace ef::tree
