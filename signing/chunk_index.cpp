#include "signing/chunk_index.hpp"

#include <bit>
#include <charconv>

#include "image/squashfs_reader.hpp"

namespace ef::signing {
namespace {

// splitmix64 from a fixed seed ("edgeforg"): the gear table of gear-cdc-1.
// Changing it changes every chunk boundary, so it is part of the format.
constexpr std::array<uint64_t, 256> make_gear() {
  std::array<uint64_t, 256> table{};
  uint64_t state = 0x6564676566726f67ull;
  for (auto& g : table) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    g = z ^ (z >> 31);
  }
  return table;
}
constexpr std::array<uint64_t, 256> kGear = make_gear();

// The top `bits` bits: with the hash shifted left once per byte, they depend
// on the last 64 bytes, the low bits only on the last few.
uint64_t top_bits(int bits) {
  return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits);
}

Error bad(const std::string& message) {
  return Error(Errc::bad_bundle, "chunk index: " + message);
}

bool is_lower_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A decimal without sign or leading zeros ("0" alone is fine).
bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<void> ChunkParams::check() const {
  if (avg_size < 256 || !std::has_single_bit(avg_size))
    return Error(Errc::invalid_argument, "average chunk size must be a power of two >= 256");
  if (min_size == 0 || min_size > avg_size || avg_size > max_size || max_size > kMaxChunkSize)
    return Error(Errc::invalid_argument, "chunk sizes must satisfy 0 < min <= avg <= max <= " +
                                             std::to_string(kMaxChunkSize));
  return Ok{};
}

std::string_view chunk_algorithm_name(ChunkAlgorithm algorithm) {
  return algorithm == ChunkAlgorithm::gear ? kGearChunkAlgorithm : kSquashfsChunkAlgorithm;
}

std::optional<ChunkAlgorithm> parse_chunk_algorithm(std::string_view name) {
  if (name == kSquashfsChunkAlgorithm) return ChunkAlgorithm::squashfs;
  if (name == kGearChunkAlgorithm) return ChunkAlgorithm::gear;
  return std::nullopt;
}

Chunker::Chunker(ChunkParams params, std::vector<uint64_t> blocks)
    : params_(params), blocks_(std::move(blocks)) {
  int bits = std::countr_zero(params_.avg_size);
  mask_small_ = top_bits(bits + 2);
  mask_large_ = top_bits(bits - 2);
  if (!blocks_.empty()) {  // before the first block: a stretch of its own
    block_end_ = blocks_.front();
    gear_ = block_end_ > params_.max_size;
  }
}

// At the start of a block: cut before it unless the chunk so far is shorter
// than min_size and the block fits in the same chunk; the gear hash cuts
// inside the block only when it is longer than max_size (or its length is
// unknown: after the last start).
void Chunker::enter_block(uint64_t at) {
  ++next_block_;  // blocks_[next_block_] was `at`
  while (next_block_ < blocks_.size() && blocks_[next_block_] <= at) ++next_block_;
  uint64_t end = next_block_ < blocks_.size() ? blocks_[next_block_] : UINT64_MAX;
  uint64_t size = end - at;
  if (length_ > 0 && (length_ >= params_.min_size || size > params_.max_size - length_)) cut();
  gear_ = size > params_.max_size;
  fingerprint_ = 0;
  block_end_ = end;
}

void Chunker::cut() {
  chunks_.push_back({offset_, length_, hash_.hex_digest()});
  hash_ = Sha256();
  offset_ += length_;
  length_ = 0;
  fingerprint_ = 0;
}

void Chunker::update(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t i = 0, start = 0;  // start: of the bytes not yet hashed
  while (i < size) {
    uint64_t at = offset_ + length_;
    if (at == block_end_) {
      hash_.update(p + start, i - start);
      start = i;
      enter_block(at);
    }
    size_t span = static_cast<size_t>(std::min<uint64_t>(size - i, block_end_ - at));
    if (!gear_) {  // a whole block is one chunk (or part of one)
      length_ += static_cast<uint32_t>(span);
      i += span;
      continue;
    }
    for (size_t end = i + span; i < end; ++i) {
      fingerprint_ = (fingerprint_ << 1) + kGear[p[i]];
      ++length_;
      if (length_ < params_.min_size) continue;
      uint64_t mask = length_ < params_.avg_size ? mask_small_ : mask_large_;
      if ((fingerprint_ & mask) != 0 && length_ < params_.max_size) continue;
      hash_.update(p + start, i + 1 - start);
      start = i + 1;
      cut();
    }
  }
  if (start < size) hash_.update(p + start, size - start);
}

std::vector<Chunk> Chunker::finish() {
  if (length_ > 0) cut();
  return std::move(chunks_);
}

std::string encode_chunk_index(const std::vector<Chunk>& chunks) {
  std::string out;
  out.reserve(chunks.size() * 90);
  for (const auto& c : chunks)
    out += std::to_string(c.offset) + " " + std::to_string(c.size) + " " + c.sha256 + "\n";
  return out;
}

Result<std::vector<uint64_t>> image_block_starts(const std::filesystem::path& path, uint64_t offset,
                                                 uint64_t image_size, const ChunkParams& params) {
  if (params.algorithm == ChunkAlgorithm::gear) return std::vector<uint64_t>{};
  EF_ASSIGN(auto reader, image::ImageReader::open(path, offset, image_size));
  EF_ASSIGN(auto starts, reader->block_starts());
  starts.push_back(image_size);
  return starts;
}

ChunkIndexInfo describe_chunk_index(const std::vector<Chunk>& chunks, const ChunkParams& params) {
  ChunkIndexInfo info;
  info.params = params;
  info.count = chunks.size();
  std::string bytes = encode_chunk_index(chunks);
  info.index_size = bytes.size();
  info.index_sha256 = sha256_hex(bytes);
  return info;
}

Result<std::vector<Chunk>> parse_chunk_index(std::string_view bytes, const ChunkIndexInfo& info,
                                             uint64_t payload_size) {
  if (bytes.size() != info.index_size)
    return bad(std::to_string(bytes.size()) + " bytes where the manifest says " +
               std::to_string(info.index_size));
  if (sha256_hex(bytes) != info.index_sha256)
    return bad("sha256 differs from the manifest's (index altered or corrupt)");
  uint32_t max = std::min(info.params.max_size, kMaxChunkSize);
  std::vector<Chunk> chunks;
  uint64_t expect = 0;
  size_t pos = 0;
  for (uint64_t line = 1; pos < bytes.size(); ++line) {
    size_t nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos) return bad("line " + std::to_string(line) + " has no end");
    std::string_view l = bytes.substr(pos, nl - pos);
    pos = nl + 1;
    auto at = "line " + std::to_string(line) + ": ";
    size_t s1 = l.find(' '), s2 = s1 == std::string_view::npos ? s1 : l.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return bad(at + "expected OFFSET SIZE SHA256");
    uint64_t offset = 0, size = 0;
    std::string_view hash = l.substr(s2 + 1);
    if (!parse_decimal(l.substr(0, s1), offset) ||
        !parse_decimal(l.substr(s1 + 1, s2 - s1 - 1), size) || !is_lower_hex64(hash))
      return bad(at + "expected OFFSET SIZE SHA256");
    if (offset != expect)
      return bad(at + "chunk at " + std::to_string(offset) + " where the previous one ends at " +
                 std::to_string(expect) + (offset < expect ? " (overlap)" : " (gap)"));
    if (size == 0 || size > max)
      return bad(at + "chunk of " + std::to_string(size) + " bytes (1 to " + std::to_string(max) +
                 " allowed)");
    if (offset + size > payload_size)
      return bad(at + "chunk runs to " + std::to_string(offset + size) + ", past the payload's " +
                 std::to_string(payload_size) + " bytes");
    chunks.push_back({offset, static_cast<uint32_t>(size), std::string(hash)});
    expect = offset + size;
  }
  if (expect != payload_size)
    return bad("chunks end at " + std::to_string(expect) + ", the payload at " +
               std::to_string(payload_size));
  if (chunks.size() != info.count)
    return bad(std::to_string(chunks.size()) + " chunks where the manifest says " +
               std::to_string(info.count));
  return chunks;
}

}  // namespace ef::signing
