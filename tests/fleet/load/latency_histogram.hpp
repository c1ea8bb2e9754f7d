// Request latencies in a log-linear histogram (as HdrHistogram does): exact
// below 128 µs, then 64 buckets per power of two, so every percentile is
// within 1/64 (1.6 %) of the true value, in a fixed 30 KB however long a
// benchmark runs.
#pragma once

#include <array>
#include <cstdint>

namespace ef::fleet::load {

class LatencyHistogram {
 public:
  /// Counts one latency of `micros` microseconds.
  void record(uint64_t micros);
  /// Adds every count of `other`.
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  /// The latency below which `percent` (0 to 100) of the counts fall, in
  /// microseconds: the upper end of its bucket, never above max(); 0 when
  /// nothing was counted.
  uint64_t percentile(double percent) const;

 private:
  static constexpr int kExactBits = 7;  // values below 2^7 have a bucket each
  static constexpr int kSubBuckets = 64;
  static constexpr int kBuckets = (1 << kExactBits) + 57 * kSubBuckets;  // up to 2^64
  static int bucket_of(uint64_t micros);
  static uint64_t upper_of(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0, max_ = 0, sum_ = 0;
};

}  // namespace ef::fleet::load
