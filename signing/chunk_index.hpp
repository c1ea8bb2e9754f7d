// Content-defined chunks of a bundle's payload and the index that lists them
// (docs/bundle-format.md, "Chunk index"). The bundle's manifest carries the
// index's size and sha256, so the signatures cover every chunk's hash: a
// device that fetches chunks from an untrusted store checks each one before
// it writes it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/sha256.hpp"

namespace ef::signing {

/// The one chunking algorithm of format 1 ("gear-cdc-1"): a gear rolling
/// hash (FastCDC's) reset at each chunk start; no cut before `min_size`; up
/// to `avg_size` a cut needs the top `avg_bits + 2` bits of the hash zero,
/// after it the top `avg_bits - 2` (normalized chunking, level 2); a cut is
/// forced at `max_size`. The gear table is part of the format.
inline constexpr std::string_view kChunkAlgorithm = "gear-cdc-1";
inline constexpr uint32_t kMaxChunkSize = 1u << 20;  // what any reader accepts
/// The longest index line: 20-digit offset, 7-digit size, hash, 2 spaces, newline.
inline constexpr uint64_t kMaxChunkIndexLine = 20 + 1 + 7 + 1 + 64 + 1;

struct ChunkParams {
  uint32_t min_size = 16 * 1024;
  uint32_t avg_size = 64 * 1024;  // a power of two
  uint32_t max_size = 256 * 1024;
  /// min ≤ avg ≤ max ≤ kMaxChunkSize, avg a power of two ≥ 256.
  Result<void> check() const;
};

struct Chunk {
  uint64_t offset = 0;
  uint32_t size = 0;
  std::string sha256;  // 64 lower-case hex
};

/// Cuts a byte stream into chunks as it is fed (any split of the stream into
/// update() calls gives the same chunks).
class Chunker {
 public:
  explicit Chunker(ChunkParams params = {});
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// Ends the stream (the rest is the last chunk) and returns every chunk.
  std::vector<Chunk> finish();

 private:
  void cut();
  ChunkParams params_;
  uint64_t mask_small_, mask_large_;
  uint64_t fingerprint_ = 0;
  uint64_t offset_ = 0;  // of the current chunk in the stream
  uint32_t length_ = 0;  // bytes of the current chunk so far
  Sha256 hash_;
  std::vector<Chunk> chunks_;
};

/// The index as the bundle stores it: one line per chunk, in payload order,
/// "OFFSET SIZE SHA256\n" (decimal, decimal, 64 lower-case hex).
std::string encode_chunk_index(const std::vector<Chunk>& chunks);

/// What the signed manifest says about the index.
struct ChunkIndexInfo {
  std::string algorithm = std::string(kChunkAlgorithm);
  ChunkParams params;
  uint64_t count = 0;
  uint64_t index_size = 0;
  std::string index_sha256;
};

/// The manifest's record of `chunks` under `params`.
ChunkIndexInfo describe_chunk_index(const std::vector<Chunk>& chunks, const ChunkParams& params);

/// Parses index bytes a source sent against what the signed manifest says:
/// size and sha256 first, then every line strictly (no gaps, no overlaps,
/// no chunk over maxSize or kMaxChunkSize, the last ending exactly at
/// `payload_size`, `count` lines). Errc::bad_bundle naming the line.
Result<std::vector<Chunk>> parse_chunk_index(std::string_view bytes, const ChunkIndexInfo& info,
                                             uint64_t payload_size);

}  // namespace ef::signing
