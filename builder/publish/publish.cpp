#include "builder/publish/publish.hpp"

#include <unordered_set>

#include "signing/bundle.hpp"
#include "signing/chunk_store.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"

namespace ef::publish {
namespace {

namespace fs = std::filesystem;

// The bytes at [offset, offset + size) of the open bundle.
Result<std::string> read_range(const signing::Bundle& b, uint64_t offset, size_t size) {
  std::string out(size, '\0');
  EF_TRY(pread_all(b.fd(), out.data(), size, offset, b.path()));
  return out;
}

// Whether `path` holds a good stored copy of `chunk`.
bool stored_copy_is_good(const fs::path& path, const signing::Chunk& chunk) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec || size > chunk.size) return false;
  auto stored = read_file(path);
  return stored && signing::decode_stored_chunk(*stored, chunk).ok();
}

}  // namespace

std::string head_file_name(const std::string& product, const std::string& version) {
  return product + "-" + version + ".efbh";
}

Result<PublishReport> publish_to_dir(const fs::path& bundle_path, const fs::path& dir) {
  EF_ASSIGN(auto bundle, signing::Bundle::open(bundle_path));
  EF_ASSIGN(auto m, bundle.manifest());
  EF_ASSIGN(auto chunks, signing::chunk_payload(bundle, m));
  const uint64_t base = bundle.header().payload_offset;

  PublishReport r;
  r.payload_bytes = m.payload.size;
  std::unordered_set<std::string> seen;
  for (const auto& c : chunks) {
    if (!seen.insert(c.sha256).second) continue;
    ++r.chunks;
    fs::path path = dir / signing::chunk_store_path(c.sha256);
    std::error_code ec;
    bool exists = fs::exists(path, ec);
    if (exists && stored_copy_is_good(path, c)) {
      ++r.present_chunks;
      r.present_bytes += fs::file_size(path, ec);
      continue;
    }
    if (exists) ++r.repaired_chunks;
    EF_ASSIGN(auto data, read_range(bundle, base + c.offset, c.size));
    EF_ASSIGN(auto stored, signing::encode_stored_chunk(data));
    if (auto w = write_file_atomic(path, stored); !w)
      return std::move(w).error().with_context("chunk store " + dir.string());
    ++r.written_chunks;
    r.written_bytes += stored.size();
  }

  // The head: the bundle up to its payload, then the index.
  EF_ASSIGN(auto head, read_range(bundle, 0, base));
  head += signing::encode_chunk_index(chunks);
  r.head = dir / head_file_name(m.product, m.version.str());
  EF_TRY(write_file_atomic(r.head, head));
  return r;
}

}  // namespace ef::publish
