// A slot's chunk index, kept beside the agent's journal: after a delta
// install the release's signed index describes what the slot now holds, and
// after a seed slot was cut its chunks are known. The next delta install
// reads this file instead of reading and hashing the whole slot to learn
// what it holds (RAUC's adaptive block-hash-index keeps a slot's hashes the
// same way). It is only a hint: every chunk taken on its word is read again
// and checked against the release's signed index before it is written, so a
// stale or damaged file costs downloads, never a wrong slot.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signing/chunk_index.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// What a slot holds: `chunks` of its first `payload_size` bytes (a squashfs
/// image of `image_size` bytes, then its verity tree), cut with `params`.
struct SlotChunks {
  signing::ChunkParams params;
  uint64_t image_size = 0;
  uint64_t payload_size = 0;
  std::vector<signing::Chunk> chunks;
};

/// The file's bytes: a first line saying how the slot was cut, what it
/// holds and what the index after it must be (its size and sha256), then
/// the index as a bundle stores it.
std::string encode_slot_chunks(const SlotChunks& kept);

/// The reverse, as strictly as a release's index is read; nullopt for
/// anything else.
std::optional<SlotChunks> parse_slot_chunks(std::string_view bytes);

/// Writes `kept` to `file` (temporary name, renamed when complete).
Result<void> keep_slot_chunks(const std::filesystem::path& file, const SlotChunks& kept);

/// What `file` keeps, when it is whole, was cut with `params` and describes
/// an image of `image_size` bytes (the slot's superblock says how large its
/// image is now); nullopt otherwise: missing, damaged, another slot content,
/// other parameters. The caller then cuts the slot itself.
std::optional<SlotChunks> load_slot_chunks(const std::filesystem::path& file,
                                           const signing::ChunkParams& params, uint64_t image_size);

/// Removes `file`: done before the first byte is written into its slot.
Result<void> forget_slot_chunks(const std::filesystem::path& file);

}  // namespace ef::agent
