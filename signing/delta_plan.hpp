// What a device on one payload must download for another: the planner that
// `edgeforge-agent upgrade` follows and `edgeforge delta-stats` reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "signing/chunk_index.hpp"

namespace ef::signing {

/// Where a target chunk comes from.
struct ChunkSource {
  enum class Kind { seed, download, computed } kind = Kind::download;
  uint64_t seed_offset = 0;  // Kind::seed: where the same bytes are in the seed
};

struct DeltaPlan {
  uint64_t full_bytes = 0;       // the whole payload (not only `target`'s chunks)
  uint64_t download_bytes = 0;   // the chunks to fetch (each distinct chunk once)
  uint64_t chunks = 0;           // in the target
  uint64_t reused_chunks = 0;    // target chunks the seed already has
  uint64_t download_chunks = 0;  // distinct chunks to fetch
  uint64_t computed_chunks = 0;  // the verity tree's, made from the image on the device
  uint64_t computed_bytes = 0;
  /// The delta costs as much as the full payload: fetch that instead.
  bool full = false;
  std::string reason;                // one line: why delta or full
  std::vector<ChunkSource> sources;  // one per target chunk
};

/// Plans `target` (the release's index, or only the chunks of it still
/// missing, as the agent plans after a resume) against `seed` (the chunks
/// of what the device already has, e.g. the booted slot, cut with the same
/// parameters). Target chunks that start at or after `computed_from` (the
/// image size: the verity tree) and are not in the seed are computed from
/// the image, not fetched. `payload_bytes` is the whole payload's size,
/// whatever part of it `target` is: a plan whose download is at least that
/// less `index_bytes` (what fetching the index itself costs) says full.
DeltaPlan plan_delta(const std::vector<Chunk>& seed, const std::vector<Chunk>& target,
                     uint64_t payload_bytes, uint64_t index_bytes,
                     uint64_t computed_from = UINT64_MAX);

}  // namespace ef::signing
