#include "builder/publish/publish.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "signing/bundle.hpp"
#include "signing/chunk_store.hpp"
#include "signing/oci_store.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"

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

Result<PublishReport> publish_to_oci(const fs::path& bundle_path, OciRegistry& registry) {
  using nlohmann::json;
  EF_ASSIGN(auto bundle, signing::Bundle::open(bundle_path));
  EF_ASSIGN(auto m, bundle.manifest());
  EF_ASSIGN(auto chunks, signing::chunk_payload(bundle, m));
  const uint64_t base = bundle.header().payload_offset;

  PublishReport r;
  r.payload_bytes = m.payload.size;
  auto push = [&](const std::string& digest, std::string_view data, bool count) -> Result<void> {
    EF_ASSIGN(bool present, registry.has_blob(digest));
    if (count) {
      (present ? r.present_chunks : r.written_chunks) += 1;
      (present ? r.present_bytes : r.written_bytes) += data.size();
    }
    if (present) return Ok{};
    return registry.push_blob(digest, data);
  };
  json layers = json::array();
  std::unordered_set<std::string> seen;
  json chunk_layers = json::array();
  for (const auto& c : chunks) {
    if (!seen.insert(c.sha256).second) continue;
    ++r.chunks;
    std::string digest = "sha256:" + c.sha256;
    EF_ASSIGN(bool present, registry.has_blob(digest));
    if (present) {
      ++r.present_chunks;
      r.present_bytes += c.size;
    } else {
      EF_ASSIGN(auto data, read_range(bundle, base + c.offset, c.size));
      EF_TRY(registry.push_blob(digest, data));
      ++r.written_chunks;
      r.written_bytes += c.size;
    }
    chunk_layers.push_back(
        {{"mediaType", signing::kOciChunkMediaType}, {"digest", digest}, {"size", c.size}});
  }
  EF_ASSIGN(auto head, read_range(bundle, 0, base));
  head += signing::encode_chunk_index(chunks);
  std::string head_digest = "sha256:" + sha256_hex(head);
  EF_TRY(push(head_digest, head, false));
  const std::string empty = "{}";
  const std::string empty_digest = "sha256:" + sha256_hex(empty);
  EF_TRY(push(empty_digest, empty, false));
  std::string name = head_file_name(m.product, m.version.str());
  layers.push_back({{"mediaType", signing::kOciHeadMediaType},
                    {"digest", head_digest},
                    {"size", head.size()},
                    {"annotations", {{"org.opencontainers.image.title", name}}}});
  for (auto& l : chunk_layers) layers.push_back(std::move(l));
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", signing::kOciManifestMediaType},
      {"artifactType", signing::kOciArtifactType},
      {"config",
       {{"mediaType", "application/vnd.oci.empty.v1+json"}, {"digest", empty_digest}, {"size", 2}}},
      {"layers", layers},
      {"annotations",
       {{"org.opencontainers.image.title", name},
        {"org.opencontainers.image.version", m.version.str()}}}};
  std::string tag = registry.reference().tag;
  if (tag.empty()) {
    tag = m.version.str();
    std::replace(tag.begin(), tag.end(), '+', '_');  // OCI tags have no '+'
  }
  EF_TRY(registry.put_manifest(tag, signing::kOciManifestMediaType, manifest.dump()));
  OciReference tagged = registry.reference();
  tagged.tag = tag;
  r.head = tagged.str();
  return r;
}

}  // namespace ef::publish
