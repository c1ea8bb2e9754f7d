#include "builder/build/supply_chain.hpp"

#include <openssl/evp.h>

#include "util/sha256.hpp"

namespace ef::build {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxKept = 64ull << 20;  // status, os-release, copyright files

std::string text(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

const json& section(const json& j, const char* key) {
  static const json empty = json::object();
  return j.is_object() && j.contains(key) && !j[key].is_null() ? j[key] : empty;
}

const json& list(const json& j, const char* key) {
  static const json empty = json::array();
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : empty;
}

void walk(const tree::Node& node, const std::string& path, uint32_t base_layers,
          std::vector<std::pair<std::string, const tree::Inode*>>& out) {
  for (const auto& [name, child] : node.children) {
    std::string p = path + "/" + name;
    if (child->inode->type == tree::NodeType::regular && child->layer > base_layers)
      out.emplace_back(p, child->inode.get());
    if (child->inode->type == tree::NodeType::directory) walk(*child, p, base_layers, out);
  }
}

// A regular file small enough to keep (status, os-release, copyright).
const tree::Inode* small_file(const tree::Tree& tree, std::string_view path) {
  const tree::Node* n = tree.find(path);
  return n != nullptr && n->inode->type == tree::NodeType::regular && n->inode->size <= kMaxKept
             ? n->inode.get()
             : nullptr;
}

}  // namespace

// What one watched file keeps: its bytes (small text files) or its hashes.
struct SbomCollector::Watched {
  bool keep = false, hash = false;
  std::string bytes;
  Sha256 sha256;
  EVP_MD_CTX* sha1 = nullptr;
  std::string sha256_hex, sha1_hex;

  ~Watched() { EVP_MD_CTX_free(sha1); }
  void update(std::string_view data) {
    if (keep) bytes.append(data);  // only files of at most kMaxKept bytes are kept
    if (!hash) return;
    if (sha1 == nullptr) {
      sha1 = EVP_MD_CTX_new();
      EVP_DigestInit_ex(sha1, EVP_sha1(), nullptr);
    }
    sha256.update(data);
    EVP_DigestUpdate(sha1, data.data(), data.size());
  }
  void finish() {
    if (!hash || !sha256_hex.empty()) return;
    if (sha1 == nullptr) update({});
    sha256_hex = sha256.hex_digest();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(sha1, md, &n);
    static const char* hex = "0123456789abcdef";
    for (unsigned i = 0; i < n; ++i) {
      sha1_hex += hex[md[i] >> 4];
      sha1_hex += hex[md[i] & 15];
    }
  }
};

SbomCollector::SbomCollector(const tree::Tree& tree, uint32_t base_layers) {
  auto keep = [&](const tree::Inode* inode) {
    if (inode == nullptr) return;
    auto& w = watched_[inode];
    if (!w) w = std::make_unique<Watched>();
    w->keep = true;
  };
  status_ = small_file(tree, "var/lib/dpkg/status");
  keep(status_);
  os_release_ = small_file(tree, "usr/lib/os-release");
  if (os_release_ == nullptr) os_release_ = small_file(tree, "etc/os-release");
  keep(os_release_);
  // /usr/share/doc/<dir>/copyright; a doc directory may be a symlink to a
  // sibling (packages of one source share one).
  if (const tree::Node* doc = tree.find("usr/share/doc"); doc != nullptr) {
    for (const auto& [name, child] : doc->children) {
      std::string dir = name;
      if (child->inode->type == tree::NodeType::symlink &&
          child->inode->target.find('/') == std::string::npos)
        dir = child->inode->target;
      if (const auto* file = small_file(tree, "usr/share/doc/" + dir + "/copyright")) {
        copyright_[name] = file;
        keep(file);
      }
    }
  }
  walk(tree.root(), "", base_layers, added_);
  for (const auto& [path, inode] : added_) {
    auto& w = watched_[inode];
    if (!w) w = std::make_unique<Watched>();
    w->hash = true;
  }
}

SbomCollector::~SbomCollector() = default;

void SbomCollector::observe(const tree::Inode& inode, std::string_view data) {
  auto it = watched_.find(&inode);
  if (it != watched_.end()) it->second->update(data);
}

void SbomCollector::finish() {
  if (status_) packages_ = sbom::parse_dpkg_status(watched_.at(status_)->bytes);
  for (const auto& [path, inode] : added_) watched_.at(inode)->finish();
}

const std::vector<sbom::DebPackage>* SbomCollector::packages() const {
  return packages_ ? &*packages_ : nullptr;
}

void SbomCollector::fill(sbom::SbomFacts& facts) const {
  if (os_release_) facts.os = sbom::parse_os_release(watched_.at(os_release_)->bytes);
  for (const auto& deb : packages_.value_or(std::vector<sbom::DebPackage>{})) {
    sbom::Package p{deb, std::nullopt};
    auto it = copyright_.find(deb.name);
    if (it != copyright_.end()) p.license = sbom::dep5_license(watched_.at(it->second)->bytes);
    facts.packages.push_back(std::move(p));
  }
  for (const auto& [path, inode] : added_) {
    const Watched& w = *watched_.at(inode);
    facts.files.push_back({path, w.sha1_hex, w.sha256_hex});
  }
}

sbom::SbomFacts sbom_facts(const json& m, const SbomCollector& collector) {
  sbom::SbomFacts f;
  const json& profile = section(m, "profile");
  f.product = text(profile, "name");
  f.version = text(profile, "version");
  f.profile_digest = text(profile, "digest");
  f.tool_version = text(section(m, "tool"), "version");
  f.epoch = m.contains("epoch") && m["epoch"].is_number_integer() ? m["epoch"].get<int64_t>() : 0;
  f.image_file = text(section(m, "image"), "file");
  f.image_sha256 = text(section(m, "image"), "sha256");
  const json& node = section(m, "node");
  const json& k8s = section(node, "kubernetes");
  for (const auto& a : list(k8s, "artifacts"))
    f.artifacts.push_back({text(a, "name"), text(k8s, "version"), text(a, "url"), text(a, "sha256"),
                           text(a, "destination")});
  for (const auto& p : list(node, "packs")) {
    f.packs.push_back({text(p, "name"), text(p, "version"), text(p, "source")});
    for (const auto& archive : list(p, "images"))
      for (const auto& i : list(archive, "images"))
        f.images.push_back({text(i, "name"), text(i, "digest"), text(p, "name"),
                            text(archive, "path"), text(archive, "sha256")});
  }
  collector.fill(f);
  return f;
}

json provenance(const json& m, const std::vector<sbom::Digested>& subjects) {
  sbom::ProvenanceFacts f;
  f.tool_version = text(section(m, "tool"), "version");
  const json& profile = section(m, "profile");
  f.external_parameters = {{"profile",
                            {{"name", text(profile, "name")},
                             {"version", text(profile, "version")},
                             {"digest", {{"sha256", text(profile, "digest")}}},
                             {"sources", list(profile, "sources")}}}};
  const json& image = section(m, "image");
  f.internal_parameters = {
      {"epoch", m.contains("epoch") ? m["epoch"] : json(nullptr)},
      {"epochSource", m.contains("epochSource") ? m["epochSource"] : json()},
      {"compression", image.contains("compression") ? image["compression"] : json(nullptr)},
      {"level", image.contains("level") ? image["level"] : json(nullptr)},
      {"blockSize", image.contains("blockSize") ? image["blockSize"] : json(nullptr)}};
  // Every input with what identifies it: a digest, else where it came from.
  auto uri_of = [](const json& in) {
    if (!text(in, "url").empty()) return text(in, "url");
    if (!text(in, "path").empty()) return "file:" + text(in, "path");
    return std::string();
  };
  for (const auto& in : list(m, "inputs")) {
    std::string name = text(in, "role");
    if (!text(in, "kind").empty()) name += " (" + text(in, "kind") + ")";
    if (in.contains("files") && in["files"].is_array()) {
      for (const auto& file : in["files"])
        f.dependencies.push_back(
            {name + " " + text(file, "path"),
             text(file, "source").empty() ? "" : "file:" + text(file, "source"),
             text(file, "sha256")});
      continue;
    }
    std::string uri = uri_of(in);
    if (uri.empty() && in.contains("recipe"))
      uri = "mmdebstrap:" + text(section(in, "recipe"), "suite");
    f.dependencies.push_back({name, uri, text(in, "sha256")});
  }
  const json& node = section(m, "node");
  for (const auto& a : list(section(node, "kubernetes"), "artifacts"))
    f.dependencies.push_back({"kubernetes " + text(a, "name"), text(a, "url"), text(a, "sha256")});
  for (const auto& p : list(node, "packs")) {
    f.dependencies.push_back(
        {"pack " + text(p, "name") + " " + text(p, "version"), "file:" + text(p, "source"), ""});
    for (const auto& archive : list(p, "images"))
      f.dependencies.push_back(
          {"pack " + text(p, "name") + " image archive " + text(archive, "path"), "",
           text(archive, "sha256")});
  }
  f.subjects = subjects;
  return sbom::provenance_statement(f);
}

}  // namespace ef::build
