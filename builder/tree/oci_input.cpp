// OCI image layouts, OCI archives and `docker save` archives.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "builder/tree/archive_reader.hpp"
#include "builder/tree/inputs.hpp"
#include "util/atomic_file.hpp"
#include "util/json_fields.hpp"

namespace ef::tree {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kMaxMetadataSize = 4 << 20;  // index/manifest/config JSON
constexpr std::string_view kIndexType = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kDockerListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";

// Reads small JSON documents from the image, wherever it is stored.
class ImageStore {
 public:
  ImageStore(fs::path path, bool is_archive, std::string label)
      : path_(std::move(path)), is_archive_(is_archive), label_(std::move(label)) {}

  Result<json> read_json(const std::string& name) const {
    std::string text;
    if (is_archive_) {
      SourceInfo src;
      src.path = path_.string();
      src.label = label_;
      EF_ASSIGN(auto reader, ArchiveReader::open(src));
      ArchiveEntry e;
      bool found = false;
      for (;;) {
        EF_ASSIGN(bool more, reader->next(e));
        if (!more) break;
        if (normalize(e.path) == name) {
          EF_ASSIGN(text, reader->read_all(e.inode.size, kMaxMetadataSize));
          found = true;
          break;
        }
      }
      if (!found)
        return Error(Errc::archive, label_ + ": '" + name + "' not found in " + path_.string());
    } else {
      EF_ASSIGN(text, read_file(path_ / name));
    }
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded())
      return Error(Errc::archive, label_ + ": '" + name + "' is not valid JSON");
    return doc;
  }

  SourceInfo blob(const std::string& name, const std::string& label) const {
    SourceInfo src;
    src.label = label;
    if (is_archive_) {
      src.kind = SourceInfo::Kind::archive_member;
      src.path = path_.string();
      src.member = name;
    } else {
      src.kind = SourceInfo::Kind::archive_file;
      src.path = (path_ / name).string();
    }
    return src;
  }

  static std::string normalize(std::string p) {
    while (p.rfind("./", 0) == 0) p.erase(0, 2);
    return p;
  }

 private:
  fs::path path_;
  bool is_archive_;
  std::string label_;
};

Result<std::string> blob_name(const json& descriptor, const std::string& label) {
  std::string digest = string_of(descriptor, "digest");
  if (digest.rfind("sha256:", 0) != 0 || digest.find('/') != std::string::npos)
    return Error(Errc::archive, label + ": unsupported or missing digest '" + digest + "'");
  return "blobs/sha256/" + digest.substr(7);
}

bool matches_ref(const std::string& candidate, const std::string& ref) {
  if (candidate == ref) return true;
  return candidate.size() > ref.size() &&
         candidate.compare(candidate.size() - ref.size() - 1, std::string::npos, ":" + ref) == 0;
}

// Picks the manifest descriptor from an index by ref name, or the only one;
// nested indexes pick linux/amd64. Members of the wrong type read as absent.
Result<json> pick_manifest(const ImageStore& store, const json& index, const std::string& ref,
                           const std::string& label) {
  const json* manifests = member_of(index, "manifests");
  if (!manifests || !manifests->is_array() || manifests->empty())
    return Error(Errc::archive, label + ": index.json lists no manifests");
  const json* chosen = nullptr;
  if (ref.empty() && manifests->size() == 1) chosen = &(*manifests)[0];
  for (const auto& m : *manifests) {
    if (chosen) break;
    const json* annotations = member_of(m, "annotations");
    std::string name =
        annotations ? string_of(*annotations, "org.opencontainers.image.ref.name") : "";
    const json* platform = member_of(m, "platform");
    bool amd64 = platform && string_of(*platform, "architecture") == "amd64" &&
                 string_of(*platform, "os") == "linux";
    if ((!ref.empty() && matches_ref(name, ref)) || (ref.empty() && amd64)) chosen = &m;
  }
  if (!chosen)
    return Error(Errc::archive, label + ": no image named '" + ref + "' in index.json (" +
                                    std::to_string(manifests->size()) + " manifests)");
  std::string type = string_of(*chosen, "mediaType");
  if (type == kIndexType || type == kDockerListType) {
    EF_ASSIGN(auto name, blob_name(*chosen, label));
    EF_ASSIGN(auto nested, store.read_json(name));
    return pick_manifest(store, nested, "", label);
  }
  return *chosen;
}

Result<void> apply_layers(Tree& tree, const ImageStore& store,
                          const std::vector<std::string>& blobs, const std::string& label) {
  for (size_t i = 0; i < blobs.size(); ++i) {
    std::string layer_label = label + " layer " + std::to_string(i + 1) + "/" +
                              std::to_string(blobs.size()) + " (" + blobs[i] + ")";
    EF_TRY(apply_archive(tree, store.blob(blobs[i], layer_label)));
  }
  return Ok{};
}

Result<void> apply_oci_index(Tree& tree, const ImageStore& store, const std::string& ref,
                             const std::string& label) {
  EF_ASSIGN(auto index, store.read_json("index.json"));
  EF_ASSIGN(auto descriptor, pick_manifest(store, index, ref, label));
  EF_ASSIGN(auto manifest_name, blob_name(descriptor, label));
  EF_ASSIGN(auto manifest, store.read_json(manifest_name));
  const json* layers = member_of(manifest, "layers");
  if (layers && !layers->is_array())
    return Error(Errc::archive, label + ": " + manifest_name + ": \"layers\" is not a list");
  std::vector<std::string> blobs;
  for (const auto& layer : layers ? *layers : json::array()) {
    EF_ASSIGN(auto name, blob_name(layer, label));
    blobs.push_back(name);
  }
  return apply_layers(tree, store, blobs, label);
}

Result<void> apply_docker_save(Tree& tree, const ImageStore& store, const std::string& ref,
                               const std::string& label) {
  EF_ASSIGN(auto manifest, store.read_json("manifest.json"));
  if (!manifest.is_array() || manifest.empty())
    return Error(Errc::archive, label + ": manifest.json lists no images");
  const json* chosen = manifest.size() == 1 && ref.empty() ? &manifest[0] : nullptr;
  auto strings = [](const json& image, const char* key) {
    std::vector<std::string> out;
    if (const json* list = member_of(image, key); list && list->is_array())
      for (const auto& v : *list)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
  };
  for (const auto& image : manifest) {
    for (const auto& tag : strings(image, "RepoTags"))
      if (!chosen && matches_ref(tag, ref)) chosen = &image;
  }
  if (!chosen)
    return Error(Errc::archive, label + ": no image tagged '" + ref + "' in manifest.json");
  std::vector<std::string> blobs;
  for (const auto& layer : strings(*chosen, "Layers"))
    blobs.push_back(ImageStore::normalize(layer));
  return apply_layers(tree, store, blobs, label);
}

}  // namespace

Result<void> apply_oci(Tree& tree, const fs::path& path, const std::string& ref,
                       const std::string& label) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return apply_oci_index(tree, ImageStore(path, false, label), ref, label);
  EF_ASSIGN(auto members, list_archive_members(path.string()));
  ImageStore store(path, true, label);
  bool docker = members.count("manifest.json") || members.count("./manifest.json");
  bool oci = members.count("index.json") || members.count("./index.json");
  if (docker && !oci) return apply_docker_save(tree, store, ref, label);
  if (oci) return apply_oci_index(tree, store, ref, label);
  return Error(Errc::archive,
               label + ": " + path.string() +
                   " is neither an OCI image layout/archive nor a docker-save archive");
}

}  // namespace ef::tree
