#include "builder/packs/image_archive.hpp"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "builder/tree/archive_reader.hpp"
#include "util/json_fields.hpp"
#include "util/sha256.hpp"

namespace ef::packs {

namespace {

using nlohmann::json;
constexpr uint64_t kMaxMetadata = 4ull << 20;  // index, manifests, configs are small JSON
constexpr std::string_view kBlobDir = "blobs/sha256/";

struct Member {
  uint64_t size = 0;
  std::string text;  // kept for JSON metadata only (index.json, small blobs)
};

bool is_hex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Reads the whole archive once: hashes every blob against its name and
// keeps the small members (the JSON a descriptor walk needs).
Result<std::map<std::string, Member>> read_members(const std::filesystem::path& archive,
                                                   const std::string& label) {
  tree::SourceInfo src;
  src.path = archive.string();
  src.label = label;
  EF_ASSIGN(auto reader, tree::ArchiveReader::open(src));
  std::map<std::string, Member> members;
  tree::ArchiveEntry entry;
  while (true) {
    EF_ASSIGN(bool more, reader->next(entry));
    if (!more) break;
    if (entry.inode.type != tree::NodeType::regular) continue;
    std::string name = entry.path.rfind("./", 0) == 0 ? entry.path.substr(2) : entry.path;
    Member& m = members[name];
    m.size = entry.inode.size;
    bool blob = name.rfind(kBlobDir, 0) == 0;
    std::string hex = blob ? name.substr(kBlobDir.size()) : std::string();
    if (!blob) {
      if (m.size <= kMaxMetadata) {
        EF_ASSIGN(m.text, reader->read_all(m.size, kMaxMetadata));
      }
      continue;
    }
    if (!is_hex64(hex))
      return Error(Errc::archive, label + ": " + name + " is not named by a sha256 digest");
    Sha256 hash;
    bool keep = m.size <= kMaxMetadata;
    EF_TRY(reader->read_data(m.size, [&](const void* p, size_t n) -> Result<void> {
      hash.update(p, n);
      if (keep) m.text.append(static_cast<const char*>(p), n);
      return Ok{};
    }));
    std::string actual = hash.hex_digest();
    if (actual != hex)
      return Error(Errc::checksum, label + ": blob sha256:" + hex + " has sha256 " + actual +
                                       " (the archive is damaged or was edited; rebuild it)");
  }
  return members;
}

class DescriptorWalk {
 public:
  DescriptorWalk(const std::map<std::string, Member>& members, const std::string& label)
      : members_(members), label_(label) {}

  // Checks one descriptor and, for manifests and indexes, what they name.
  Result<void> visit(const json& d, const std::string& from, int depth = 0) {
    if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string())
      return Error(Errc::archive, label_ + ": " + from + " has a descriptor without a digest");
    std::string digest = d["digest"].get<std::string>();
    if (digest.rfind("sha256:", 0) != 0 || !is_hex64(digest.substr(7)))
      return Error(Errc::archive,
                   label_ + ": " + from + " names '" + digest + "', not a sha256 digest");
    if (!seen_.insert(digest).second) return Ok{};
    std::string name = std::string(kBlobDir) + digest.substr(7);
    auto it = members_.find(name);
    if (it == members_.end())
      return Error(Errc::archive,
                   label_ + ": " + from + " names " + digest + ", which the archive does not hold");
    if (d.contains("size") && d["size"].is_number_unsigned() &&
        d["size"].get<uint64_t>() != it->second.size)
      return Error(Errc::archive, label_ + ": " + from + " says " + digest + " has " +
                                      std::to_string(d["size"].get<uint64_t>()) +
                                      " bytes, the archive holds " +
                                      std::to_string(it->second.size));
    std::string type = string_of(d, "mediaType");
    bool nested =
        type.find("manifest") != std::string::npos || type.find("image.index") != std::string::npos;
    if (!nested || depth > 4) return Ok{};
    json doc = json::parse(it->second.text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded())
      return Error(Errc::archive, label_ + ": " + digest + " (" + type + ") is not JSON");
    return visit_document(doc, digest, depth + 1);
  }

  Result<void> visit_document(const json& doc, const std::string& from, int depth) {
    if (doc.contains("manifests"))
      for (const auto& m : doc["manifests"]) EF_TRY(visit(m, from, depth));
    if (doc.contains("config")) EF_TRY(visit(doc["config"], from, depth));
    if (doc.contains("layers"))
      for (const auto& l : doc["layers"]) EF_TRY(visit(l, from, depth));
    return Ok{};
  }

 private:
  const std::map<std::string, Member>& members_;
  const std::string& label_;
  std::set<std::string> seen_;
};

// The images index.json (OCI) or manifest.json (docker-save) names.
std::vector<ArchivedImage> archived_images(const json& doc, bool oci) {
  std::vector<ArchivedImage> out;
  if (oci) {
    const json* manifests = member_of(doc, "manifests");
    if (manifests == nullptr || !manifests->is_array()) return out;
    for (const auto& m : *manifests) {
      const json* annotations = member_of(m, "annotations");
      std::string name = annotations ? string_of(*annotations, "io.containerd.image.name") : "";
      if (name.empty() && annotations)
        name = string_of(*annotations, "org.opencontainers.image.ref.name");
      out.push_back({name, string_of(m, "digest")});
    }
    return out;
  }
  if (!doc.is_array()) return out;
  for (const auto& m : doc) {
    std::string config = string_of(m, "Config");  // "blobs/sha256/<hex>" or "<hex>.json"
    auto slash = config.find_last_of('/');
    std::string hex = config.substr(slash == std::string::npos ? 0 : slash + 1);
    if (hex.ends_with(".json")) hex.resize(hex.size() - 5);
    std::string digest = is_hex64(hex) ? "sha256:" + hex : "";
    const json* tags = member_of(m, "RepoTags");
    if (tags == nullptr || !tags->is_array() || tags->empty()) {
      out.push_back({"", digest});
      continue;
    }
    for (const auto& t : *tags) out.push_back({t.is_string() ? t.get<std::string>() : "", digest});
  }
  return out;
}

}  // namespace

Result<std::vector<ArchivedImage>> verify_image_archive(const std::filesystem::path& archive,
                                                        const std::string& label) {
  EF_ASSIGN(auto members, read_members(archive, label));
  bool oci = members.count("index.json") != 0;
  if (!oci && members.count("manifest.json") == 0)
    return Error(Errc::archive, label +
                                    ": not a container image archive (no manifest.json or "
                                    "index.json; use docker save or an OCI archive)");
  if (!oci) {  // docker-save: layers by path, blobs (if any) hashed above
    json manifest = json::parse(members["manifest.json"].text, nullptr, false);
    return archived_images(manifest.is_discarded() ? json::array() : manifest, false);
  }
  json index = json::parse(members["index.json"].text, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
    return Error(Errc::archive, label + ": index.json has no manifests list");
  DescriptorWalk walk(members, label);
  EF_TRY(walk.visit_document(index, "index.json", 0));
  return archived_images(index, true);
}

}  // namespace ef::packs
