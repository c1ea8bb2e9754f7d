#include "agent/slot_chunks.hpp"

#include <charconv>
#include <sstream>
#include <string>
#include <string_view>

#include "util/atomic_file.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

// First line: the format, how the slot was cut, what it holds and what the
// index after the line must be; then the index as a bundle stores it.
constexpr std::string_view kMagic = "edgeforge-slot-chunks";
constexpr std::string_view kVersion = "1";

bool parse_u64(std::string_view s, uint64_t& out) {
  // Canonical decimal only: the file encodes back to its own bytes.
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string encode_slot_chunks(const SlotChunks& kept) {
  std::string index = signing::encode_chunk_index(kept.chunks);
  signing::ChunkIndexInfo info = signing::describe_chunk_index(kept.chunks, kept.params);
  std::ostringstream head;
  head << kMagic << ' ' << kVersion << ' ' << signing::chunk_algorithm_name(kept.params.algorithm)
       << ' ' << kept.params.min_size << ' ' << kept.params.avg_size << ' ' << kept.params.max_size
       << ' ' << kept.image_size << ' ' << kept.payload_size << ' ' << info.count << ' '
       << info.index_size << ' ' << info.index_sha256 << '\n';
  return head.str() + index;
}

std::optional<SlotChunks> parse_slot_chunks(std::string_view all) {
  size_t eol = all.find('\n');
  // Fields are separated by exactly one space, with none at either end:
  // the file encodes back to its own bytes.
  if (eol == std::string_view::npos || eol == 0 || eol > 512 || all[eol - 1] == ' ')
    return std::nullopt;
  std::vector<std::string_view> f;
  for (std::string_view line = all.substr(0, eol); !line.empty();) {
    size_t sp = line.find(' ');
    f.push_back(line.substr(0, sp));
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  }
  if (f.size() != 11 || f[0] != kMagic || f[1] != kVersion) return std::nullopt;
  auto algorithm = signing::parse_chunk_algorithm(f[2]);
  if (!algorithm) return std::nullopt;
  SlotChunks kept;
  kept.params.algorithm = *algorithm;
  uint64_t min = 0, avg = 0, max = 0;
  signing::ChunkIndexInfo info;
  if (!parse_u64(f[3], min) || !parse_u64(f[4], avg) || !parse_u64(f[5], max) ||
      !parse_u64(f[6], kept.image_size) || !parse_u64(f[7], kept.payload_size) ||
      !parse_u64(f[8], info.count) || !parse_u64(f[9], info.index_size) || min > UINT32_MAX ||
      avg > UINT32_MAX || max > UINT32_MAX || kept.image_size > kept.payload_size)
    return std::nullopt;
  kept.params.min_size = static_cast<uint32_t>(min);
  kept.params.avg_size = static_cast<uint32_t>(avg);
  kept.params.max_size = static_cast<uint32_t>(max);
  if (!kept.params.check()) return std::nullopt;
  info.params = kept.params;
  info.index_sha256 = std::string(f[10]);
  // The same strict reading as a release's index: sized and hashed as the
  // first line says, no gaps, no overlaps, ending at the payload's end.
  auto chunks = signing::parse_chunk_index(all.substr(eol + 1), info, kept.payload_size);
  if (!chunks) return std::nullopt;
  kept.chunks = std::move(*chunks);
  return kept;
}

Result<void> keep_slot_chunks(const fs::path& file, const SlotChunks& kept) {
  return write_file_atomic(file, encode_slot_chunks(kept));
}

std::optional<SlotChunks> load_slot_chunks(const fs::path& file, const signing::ChunkParams& params,
                                           uint64_t image_size) {
  std::error_code ec;
  if (file.empty() || !fs::is_regular_file(file, ec)) return std::nullopt;
  auto bytes = read_file(file);
  if (!bytes) return std::nullopt;
  auto kept = parse_slot_chunks(*bytes);
  if (!kept || kept->params != params || kept->image_size != image_size) return std::nullopt;
  return kept;
}

Result<void> forget_slot_chunks(const fs::path& file) {
  std::error_code ec;
  if (file.empty() || (!fs::remove(file, ec) && !ec)) return Ok{};
  if (ec) return Error(Errc::io, "removing " + file.string() + ": " + ec.message());
  return Ok{};
}

}  // namespace ef::agent
