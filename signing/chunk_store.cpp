#include "signing/chunk_store.hpp"

#include <zstd.h>

#include "util/sha256.hpp"

namespace ef::signing {
namespace {

Error corrupt(const Chunk& c, const std::string& why) {
  return Error(Errc::checksum, "chunk " + c.sha256 + " (payload offset " +
                                   std::to_string(c.offset) + ", " + std::to_string(c.size) +
                                   " bytes): " + why);
}

}  // namespace

std::string chunk_store_path(std::string_view sha256) {
  return "chunks/" + std::string(sha256.substr(0, 4)) + "/" + std::string(sha256);
}

Result<std::string> encode_stored_chunk(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return Error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n >= data.size()) return std::string(data);
  out.resize(n);
  return out;
}

Result<std::string> decode_stored_chunk(std::string_view stored, const Chunk& c) {
  std::string data;
  if (stored.size() == c.size) {
    data = std::string(stored);
  } else if (stored.size() > c.size) {
    return corrupt(
        c, "the store sent " + std::to_string(stored.size()) + " bytes, more than the chunk");
  } else {
    // A frame that claims more than the chunk, or holds more, is refused
    // before or while decompressing into exactly chunk.size bytes.
    unsigned long long claimed = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (claimed == ZSTD_CONTENTSIZE_ERROR)
      return corrupt(c, "the store's copy is neither the chunk nor a zstd frame");
    if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != c.size)
      return corrupt(c, "the store's zstd frame holds " + std::to_string(claimed) + " bytes");
    data.resize(c.size);
    size_t n = ZSTD_decompress(data.data(), data.size(), stored.data(), stored.size());
    if (ZSTD_isError(n))
      return corrupt(c, std::string("the store's zstd frame is broken: ") + ZSTD_getErrorName(n));
    if (n != c.size)
      return corrupt(c, "the store's zstd frame holds " + std::to_string(n) + " bytes");
  }
  if (sha256_hex(data) != c.sha256) return corrupt(c, "sha256 differs (altered or corrupt)");
  return data;
}

}  // namespace ef::signing
