// A delta update's chunk index as a chunk store serves it. The manifest's
// record of the index (size, sha256, count) is taken from the input itself,
// so the fuzzer reaches the line parser that a signed manifest guards; the
// first 8 bytes are the payload size the index must cover. An index that
// parses encodes to the same bytes and tiles the payload.
#include <algorithm>
#include <cstring>

#include "fuzz/support.hpp"
#include "signing/chunk_index.hpp"
#include "util/sha256.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ef::signing;
  if (size < 9) return 0;
  uint64_t payload_size = 0;
  std::memcpy(&payload_size, data, sizeof payload_size);
  payload_size %= uint64_t{1} << 40;
  auto index = ef::fuzz::as_view(data + 8, size - 9);
  ChunkIndexInfo info;
  info.params.max_size = 1u << (10 + data[size - 1] % 11);  // 1 KiB .. 1 MiB
  info.params.avg_size = std::min(info.params.avg_size, info.params.max_size);
  info.params.min_size = std::min(info.params.min_size, info.params.avg_size);
  info.count = static_cast<uint64_t>(std::count(index.begin(), index.end(), '\n'));
  info.index_size = index.size();
  info.index_sha256 = ef::sha256_hex(index);
  auto chunks = parse_chunk_index(index, info, payload_size);
  ef::fuzz::trace("parse_chunk_index", chunks);
  if (!chunks) return 0;
  EF_FUZZ_CHECK(encode_chunk_index(*chunks) == index);
  uint64_t end = 0;
  for (const auto& c : *chunks) {
    EF_FUZZ_CHECK(c.offset == end && c.size > 0 && c.size <= info.params.max_size);
    end += c.size;
  }
  EF_FUZZ_CHECK(end == payload_size);
  return 0;
}
