#include "signing/delta_plan.hpp"

#include <unordered_map>
#include <unordered_set>

namespace ef::signing {

DeltaPlan plan_delta(const std::vector<Chunk>& seed, const std::vector<Chunk>& target,
                     uint64_t payload_bytes, uint64_t index_bytes, uint64_t computed_from) {
  std::unordered_map<std::string, uint64_t> have;  // sha256 -> seed offset
  for (const auto& c : seed) have.emplace(c.sha256, c.offset);
  DeltaPlan plan;
  // Against the whole payload: after a resume `target` is only what is
  // still missing, and fetching that is no reason to fetch everything.
  plan.full_bytes = payload_bytes;
  std::unordered_set<std::string> fetched;
  for (const auto& c : target) {
    ++plan.chunks;
    ChunkSource src;
    if (auto it = have.find(c.sha256); it != have.end()) {
      src = {ChunkSource::Kind::seed, it->second};
      ++plan.reused_chunks;
    } else if (c.offset >= computed_from) {
      src.kind = ChunkSource::Kind::computed;
      ++plan.computed_chunks;
      plan.computed_bytes += c.size;
    } else if (fetched.insert(c.sha256).second) {
      plan.download_bytes += c.size;
      ++plan.download_chunks;
    }
    plan.sources.push_back(src);
  }
  auto mib = [](uint64_t b) { return std::to_string((b + (1 << 19)) >> 20) + " MiB"; };
  if (plan.download_bytes + index_bytes >= plan.full_bytes && plan.download_bytes > 0) {
    plan.full = true;
    plan.reason = "full payload: the missing chunks (" + mib(plan.download_bytes) +
                  ") and the index cost as much as the whole payload (" + mib(plan.full_bytes) +
                  ")";
  } else {
    plan.reason = "delta: " + std::to_string(plan.download_chunks) + " of " +
                  std::to_string(plan.chunks) + " chunks to fetch (" + mib(plan.download_bytes) +
                  " of " + mib(plan.full_bytes) + ")";
    if (plan.computed_chunks > 0)
      plan.reason += "; the verity tree (" + mib(plan.computed_bytes) + ") computed on the device";
  }
  return plan;
}

}  // namespace ef::signing
