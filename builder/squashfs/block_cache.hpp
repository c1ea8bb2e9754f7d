// The block cache: compressed squashfs blocks from earlier builds, so that a
// rebuild compresses only the blocks it has not seen (docs/cache.md).
//
// Layout under <cache>/blocks:
//   <shelf>/settings             the compressor settings this shelf is for
//   <shelf>/packs/<name>.pack    an image an earlier build wrote: a hard link
//                                to it (a copy where the cache is on another
//                                file system)
//   <shelf>/packs/<name>.idx     where that image holds its blocks; a pack
//                                counts only once its index exists
// A shelf holds the output of one compressor setting (compressor, level,
// block size, options, compression library versions and a probe of the
// compressor's output), so an entry is exactly what that compressor makes
// of the block; a block is named by the XXH3-128 of its uncompressed bytes.
// The image a build writes is its pack: the compressors tell the cache each
// block's bytes (remember), the image file tells it where they were written
// (written, truncated), and commit links the finished image into the shelf
// and writes the index (name, offset, length, compressor result, input size,
// XXH3-64 per block). A cold build so writes no second copy of its blocks.
// A build reads the packs whose indexes existed when it started; a pack
// whose every block the new pack holds is replaced by it. Two builds may
// share the directory. A reader checks an entry's size and XXH3-64, and the
// caller decompresses it and compares it with the block
// (caching_compressor.hpp), so a damaged entry (an image changed in place,
// a torn file) or a hash collision costs a recompression, never a wrong
// image. Whole packs are the unit of eviction: least recently used (by the
// index's mtime, refreshed when a build takes blocks from the pack) first.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "builder/squashfs/fd_file.hpp"
#include "util/error.hpp"

namespace ef::squashfs {

/// The default bound of <cache>/blocks (`--cache-max-size`).
inline constexpr uint64_t kDefaultBlockCacheBytes = 4ull << 30;

struct BlockKey {
  unsigned char bytes[16] = {};
  std::string hex() const;
  bool operator==(const BlockKey& o) const;
};

struct BlockKeyHash {
  size_t operator()(const BlockKey& k) const;
};

/// Names an uncompressed block.
BlockKey block_key(const void* data, size_t size);

struct BlockCacheStats {
  uint64_t hits = 0;          // blocks taken from the cache
  uint64_t hit_bytes = 0;     // their uncompressed bytes (not compressed again)
  uint64_t misses = 0;        // blocks compressed
  uint64_t stored = 0;        // blocks this build compressed that its pack holds
  uint64_t stored_bytes = 0;  // their compressed bytes
  uint64_t pack_blocks = 0;   // blocks this build's pack (its image) holds, hits included
  uint64_t replaced = 0;      // older packs whose every block this build's pack holds, removed
  uint64_t damaged = 0;       // entries found damaged (the block was compressed again)
  uint64_t store_errors = 0;  // entries that could not be written (e.g. disk full)
};

struct PruneResult {
  uint64_t packs = 0;  // packs before
  uint64_t bytes = 0;  // their disk usage before (packs and indexes)
  uint64_t removed = 0;
  uint64_t removed_bytes = 0;
};

class BlockCache : public ImageWriteObserver {
 public:
  /// `dir` is <cache>/blocks; it is created when first written.
  explicit BlockCache(std::filesystem::path dir);
  ~BlockCache() override;
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  /// Opens the shelf for one compressor setting (`settings` describes it in
  /// words; the shelf's name is a digest of it) and reads the indexes of
  /// its packs. Once, before any lookup or store.
  void open_shelf(const std::string& settings);

  /// An entry as read: `payload` points into the caller's buffer.
  struct Entry {
    uint32_t result = 0;       // the compressor's answer: compressed size, 0 = kept as is
    std::string_view payload;  // the compressed block (result > 0) or the block itself
    uint64_t checksum = 0;     // XXH3-64 of the payload
  };
  /// Reads the entry for `key` (a block of `input_size` bytes) into
  /// `buffer`. Missing: nullopt. Damaged (short, wrong size, payload
  /// checksum): counted, nullopt. Thread-safe.
  std::optional<Entry> lookup(const BlockKey& key, uint32_t input_size,
                              std::vector<unsigned char>& buffer);
  /// The caller found a read entry wrong (it does not decompress to the
  /// block): counted, and not offered again by this cache.
  void reject(const BlockKey& key);
  /// What the compressor made of the block `key` (of `input_size` bytes):
  /// `payload` is what the image will hold for it; `checksum` its XXH3-64
  /// when known (a hit); `compressed` when this build compressed it.
  /// Where the image holds it is learnt from written(). Thread-safe.
  void remember(const BlockKey& key, uint32_t result, uint32_t input_size, std::string_view payload,
                std::optional<uint64_t> checksum, bool compressed);
  void count_hit(uint64_t bytes) {
    hits_ += 1;
    hit_bytes_ += bytes;
  }
  void count_miss() { misses_ += 1; }

  /// ImageWriteObserver: the image file being written.
  void written(uint64_t offset, const void* data, size_t size) override;
  void truncated(uint64_t size) override;

  /// Makes the finished image `image_fd` (readable) this build's pack:
  /// links it into the shelf (or copies it), writes its index, marks the
  /// packs this build took blocks from as recently used and removes those
  /// it replaces. Errors are counted and warned about, never returned (the
  /// cache is an optimisation). After the image is complete.
  void commit(int image_fd);

  BlockCacheStats stats() const;

  /// Removes least recently used packs until the cache uses at most
  /// `max_bytes` of disk, and leftovers of builds that stopped (packs
  /// without an index, temporary files) an hour after their last write.
  Result<PruneResult> prune(uint64_t max_bytes) const;

 private:
  struct Pack {
    std::filesystem::path data, index;
    int64_t index_mtime = 0;
    bool loaded = false;      // its index was read whole
    std::atomic<int> fd{-1};  // opened at the first hit
    std::atomic<bool> used{false};
  };
  // Where a block is, and what the index says of it.
  struct Location {
    uint32_t pack = 0;
    uint32_t length = 0;  // the payload's bytes
    uint64_t offset = 0;
    uint32_t result = 0;
    uint32_t input_size = 0;
    uint64_t checksum = 0;
  };
  struct Record {
    BlockKey key;
    uint64_t offset;
    uint32_t length, result, input_size;
    uint64_t checksum;
    bool compressed;
  };
  // A block whose bytes the image is about to receive.
  struct Pending {
    BlockKey key;
    uint32_t result, input_size;
    bool compressed;
  };
  struct PendingKey {
    uint64_t checksum;
    size_t size;
    bool operator==(const PendingKey& o) const { return checksum == o.checksum && size == o.size; }
  };
  struct PendingKeyHash {
    size_t operator()(const PendingKey& k) const { return k.checksum ^ k.size; }
  };

  void load_index(uint32_t pack);
  std::optional<Entry> read_entry(const Location& at, const BlockKey& key, uint32_t input_size,
                                  std::vector<unsigned char>& buffer);
  int pack_fd(Pack& pack);
  void damaged(const std::string& where, const std::string& why);
  void store_failed(const std::string& what, int err);
  void store_failed(const std::string& what, const std::string& why);
  bool place_image(int image_fd, const std::filesystem::path& pack);
  void remove_replaced(const std::vector<Record>& records);

  std::filesystem::path dir_, shelf_;
  std::deque<Pack> packs_;
  // Read-only after open_shelf: where each block is (the newest pack's
  // copy), and older copies, tried when the newest is damaged.
  std::unordered_map<BlockKey, Location, BlockKeyHash> index_;
  std::unordered_multimap<BlockKey, Location, BlockKeyHash> older_;

  std::mutex mutex_;  // guards what follows
  std::unordered_set<BlockKey, BlockKeyHash> rejected_;
  std::atomic<bool> any_rejected_{false};
  std::unordered_map<PendingKey, Pending, PendingKeyHash> pending_;
  std::vector<Record> records_;  // blocks the image holds, in write order
  bool committed_ = false;

  std::atomic<uint64_t> hits_{0}, hit_bytes_{0}, misses_{0}, stored_{0}, stored_bytes_{0},
      pack_blocks_{0}, replaced_{0}, damaged_{0}, store_errors_{0};
  std::atomic<bool> warned_store_{false};
};

/// Parses a size such as 4G, 512M, 100000 (bytes; K, M, G, T are powers
/// of 1024). For --cache-max-size.
Result<uint64_t> parse_size(std::string_view text);

}  // namespace ef::squashfs
