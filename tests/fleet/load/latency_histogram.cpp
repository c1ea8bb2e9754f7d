#include "tests/fleet/load/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ef::fleet::load {

int LatencyHistogram::bucket_of(uint64_t v) {
  if (v < (uint64_t{1} << kExactBits)) return static_cast<int>(v);
  const int msb = 63 - std::countl_zero(v);
  const int shift = msb - (kExactBits - 1);  // v >> shift is in [64, 128)
  const auto top = static_cast<int>(v >> shift);
  return (1 << kExactBits) + (shift - 1) * kSubBuckets + (top - kSubBuckets);
}

uint64_t LatencyHistogram::upper_of(int bucket) {
  if (bucket < (1 << kExactBits)) return static_cast<uint64_t>(bucket);
  const int rest = bucket - (1 << kExactBits);
  const int shift = rest / kSubBuckets + 1;
  const auto top = static_cast<uint64_t>(rest % kSubBuckets + kSubBuckets);
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::record(uint64_t micros) {
  ++counts_[static_cast<size_t>(bucket_of(micros))];
  ++count_;
  sum_ += micros;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  const double wanted = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * count_);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_of(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace ef::fleet::load
