// Content-defined chunks of a bundle's payload and the index that lists them
// (docs/bundle-format.md, "Chunk index"). The bundle's manifest carries the
// index's size and sha256, so the signatures cover every chunk's hash: a
// device that fetches chunks from an untrusted store checks each one before
// it writes it.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/sha256.hpp"

namespace ef::signing {

/// How a payload is cut. Both run a gear rolling hash (FastCDC's) reset at
/// each chunk start; no cut before `min_size`; up to `avg_size` a cut needs
/// the top `avg_bits + 2` bits of the hash zero, after it the top
/// `avg_bits - 2` (normalized chunking, level 2); a cut is forced at
/// `max_size`. The gear table is part of the format.
///  - gear-cdc-1: the payload as opaque bytes.
///  - sqfs-cdc-1: the payload's squashfs image cut where its blocks start
///    (every data block, fragment block and metadata table; see
///    image::ImageReader::block_starts), so that a chunk never mixes two
///    blocks: a block no longer than `max_size` is one chunk (blocks shorter
///    than `min_size` join the next), a longer stretch (the inode and
///    directory tables, the verity tree after the image) is cut by the gear
///    hash. A changed file then costs its own blocks, not its neighbours'.
enum class ChunkAlgorithm { gear, squashfs };
inline constexpr std::string_view kGearChunkAlgorithm = "gear-cdc-1";
inline constexpr std::string_view kSquashfsChunkAlgorithm = "sqfs-cdc-1";
std::string_view chunk_algorithm_name(ChunkAlgorithm algorithm);
/// The algorithm `name` names (chunk_algorithm_name's reverse), nullopt for any other.
std::optional<ChunkAlgorithm> parse_chunk_algorithm(std::string_view name);
inline constexpr uint32_t kMaxChunkSize = 1u << 20;  // what any reader accepts
/// The longest index line: 20-digit offset, 7-digit size, hash, 2 spaces, newline.
inline constexpr uint64_t kMaxChunkIndexLine = 20 + 1 + 7 + 1 + 64 + 1;

struct ChunkParams {
  uint32_t min_size = 16 * 1024;
  uint32_t avg_size = 64 * 1024;  // a power of two
  uint32_t max_size = 256 * 1024;
  ChunkAlgorithm algorithm = ChunkAlgorithm::squashfs;
  /// min ≤ avg ≤ max ≤ kMaxChunkSize, avg a power of two ≥ 256.
  Result<void> check() const;
  bool operator==(const ChunkParams&) const = default;
};

struct Chunk {
  uint64_t offset = 0;
  uint32_t size = 0;
  std::string sha256;  // 64 lower-case hex
};

/// Cuts a byte stream into chunks as it is fed (any split of the stream into
/// update() calls gives the same chunks). `blocks` (sorted stream offsets,
/// as image_block_starts returns them) are where blocks start; without
/// them the stream is cut as gear-cdc-1.
class Chunker {
 public:
  explicit Chunker(ChunkParams params = {}, std::vector<uint64_t> blocks = {});
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// Ends the stream (the rest is the last chunk) and returns every chunk.
  std::vector<Chunk> finish();

 private:
  void cut();
  void enter_block(uint64_t at);
  ChunkParams params_;
  std::vector<uint64_t> blocks_;
  size_t next_block_ = 0;            // index into blocks_
  uint64_t block_end_ = UINT64_MAX;  // where the next block starts
  bool gear_ = true;                 // inside a stretch the gear hash cuts
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

/// Where `params` says the payload whose squashfs image is the `image_size`
/// bytes at `offset` of `path` (a bundle, an image file, a slot) has its
/// blocks: empty for gear-cdc-1; for sqfs-cdc-1 the image's block starts
/// and `image_size` (where the verity tree begins). Errors when the image
/// does not read as squashfs.
Result<std::vector<uint64_t>> image_block_starts(const std::filesystem::path& path, uint64_t offset,
                                                 uint64_t image_size, const ChunkParams& params);

/// What the signed manifest says about the index.
struct ChunkIndexInfo {
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
