// The block cache: compressed squashfs blocks from earlier builds, so that a
// rebuild compresses only the blocks it has not seen (docs/cache.md).
//
// Layout under <cache>/blocks:
//   <shelf>/settings             the compressor settings this shelf is for
//   <shelf>/<2 hex>/<32 hex>     one entry: the compressed block, named by
//                                the XXH3-128 of the uncompressed block
// A shelf holds the output of one compressor setting (compressor, level,
// block size, options, compression library versions and a probe of the
// compressor's output), so an entry is exactly what that compressor makes
// of the block. Entries are written under a temporary name and renamed;
// a reader checks an entry's header and the payload's XXH3-64, and the
// caller decompresses it and compares it with the block (see
// caching_compressor.hpp), so a damaged entry or a hash collision costs a
// recompression, never a wrong image. Two builds may share the directory.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ef::squashfs {

/// The default bound of <cache>/blocks (`--cache-max-size`).
inline constexpr uint64_t kDefaultBlockCacheBytes = 4ull << 30;

struct BlockKey {
  unsigned char bytes[16] = {};
  std::string hex() const;
};

/// Names an uncompressed block.
BlockKey block_key(const void* data, size_t size);

struct BlockCacheStats {
  uint64_t hits = 0;          // blocks taken from the cache
  uint64_t hit_bytes = 0;     // their uncompressed bytes (not compressed again)
  uint64_t misses = 0;        // blocks compressed
  uint64_t stored = 0;        // entries written
  uint64_t stored_bytes = 0;  // their size on disk
  uint64_t damaged = 0;       // entries found damaged (removed; the block was recompressed)
  uint64_t store_errors = 0;  // entries that could not be written (e.g. disk full)
};

struct PruneResult {
  uint64_t entries = 0;  // entries before
  uint64_t bytes = 0;    // their disk usage before
  uint64_t removed = 0;
  uint64_t removed_bytes = 0;
};

class BlockCache {
 public:
  /// `dir` is <cache>/blocks; it is created when first written.
  explicit BlockCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }

  /// The shelf for one compressor setting (`settings` describes it in
  /// words; the shelf's name is a digest of it).
  std::filesystem::path shelf(const std::string& settings) const;

  /// An entry as read: `payload` points into the caller's buffer.
  struct Entry {
    uint32_t result = 0;       // the compressor's answer: compressed size, 0 = kept as is
    std::string_view payload;  // the compressed block (result > 0) or the block itself
  };
  /// Reads the entry for `key` (a block of `input_size` bytes) into
  /// `buffer`. Missing: nullopt. Damaged (short, wrong header, payload
  /// checksum): removed, counted, nullopt.
  std::optional<Entry> lookup(const std::filesystem::path& shelf, const BlockKey& key,
                              uint32_t input_size, std::vector<unsigned char>& buffer);
  /// The caller found a read entry wrong (it does not decompress to the
  /// block): removes and counts it.
  void reject(const std::filesystem::path& shelf, const BlockKey& key);
  /// Writes an entry (errors are counted, never reported: the cache is an
  /// optimisation).
  void store(const std::filesystem::path& shelf, const BlockKey& key, uint32_t result,
             uint32_t input_size, std::string_view payload);
  void count_hit(uint64_t bytes) {
    hits_ += 1;
    hit_bytes_ += bytes;
  }
  void count_miss() { misses_ += 1; }

  BlockCacheStats stats() const;

  /// Removes least recently used entries until the cache uses at most
  /// `max_bytes` of disk, and temporary files older than an hour.
  Result<PruneResult> prune(uint64_t max_bytes) const;

 private:
  std::filesystem::path entry_path(const std::filesystem::path& shelf, const BlockKey& key) const;
  void remove_damaged(const std::filesystem::path& path, const std::string& why);

  std::filesystem::path dir_;
  std::atomic<uint64_t> hits_{0}, hit_bytes_{0}, misses_{0}, stored_{0}, stored_bytes_{0},
      damaged_{0}, store_errors_{0};
  std::atomic<uint64_t> temp_counter_{0};
  std::atomic<bool> warned_store_{false};
};

/// Parses a size such as 4G, 512M, 100000 (bytes; K, M, G, T are powers
/// of 1024). For --cache-max-size.
Result<uint64_t> parse_size(std::string_view text);

}  // namespace ef::squashfs
