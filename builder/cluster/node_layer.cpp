#include "builder/cluster/node_layer.hpp"

#include <optional>

#include "builder/kubernetes/kubernetes_layer.hpp"
#include "builder/packs/pack.hpp"
#include "device/site.hpp"
#include "util/atomic_file.hpp"

namespace ef::cluster {

using nlohmann::json;

namespace {

// A path as the manifest shows it: relative to the profile's directory.
std::string shown(const profile::Profile& p, const std::filesystem::path& path) {
  auto rel = path.lexically_relative(p.file.parent_path());
  return rel.empty() ? path.string() : rel.string();
}

Result<void> add_site(const profile::Profile& p, const std::string& distribution,
                      node::Content& content, json& record) {
  EF_ASSIGN(auto text, read_file(p.site));
  EF_ASSIGN(auto site, site::parse_site(text, p.site.string()));
  for (const auto& f : site::render_site(site, site::registry_target_for(distribution))) {
    if (f.kind == site::SiteFile::Kind::symlink)
      content.link(f.path, f.content, "site");
    else
      content.file(f.path, f.content, "site", f.mode, f.secret);
  }
  // Only what identifies the site: never users' hashes, tokens or passwords.
  record["site"] = {
      {"file", p.site.filename().string()}, {"hostname", site.hostname}, {"tags", site.tags}};
  return Ok{};
}

// k3s registers the node under the host name it sees when it starts; the
// site's host name is also written into its config so the node name never
// depends on whether the new name was applied first. A node-name in
// spec.kubernetes.config wins. (kubeadm takes the host name at `kubeadm
// init/join`, which runs after the host name is applied.)
Result<profile::Kubernetes> with_node_name(const profile::Profile& p) {
  profile::Kubernetes k = *p.kubernetes;
  if (p.site.empty() || k.distribution != "k3s" || k.config.contains("node-name")) return k;
  EF_ASSIGN(auto text, read_file(p.site));
  EF_ASSIGN(auto site, site::parse_site(text, p.site.string()));
  if (!site.hostname.empty()) k.config["node-name"] = site.hostname;
  return k;
}

std::string effective_mirror(const profile::Profile& p, const std::string& option) {
  return option.empty() ? p.artifact_mirror : option;
}

struct Wanted {
  std::string label;  // file:line:col: kubernetes artifact <name>
  kubernetes::Artifact artifact;
  std::string line() const {
    return label + " (" + artifact.url + ", sha256 " + artifact.sha256 + ")";
  }
};

Result<std::vector<Wanted>> wanted_artifacts(const profile::Profile& p, const fetch::Cache& cache,
                                             const std::string& mirror_option) {
  std::vector<Wanted> wanted;
  if (!p.kubernetes) return wanted;
  EF_ASSIGN(auto plan,
            kubernetes::plan_kubernetes(*p.kubernetes, effective_mirror(p, mirror_option)));
  for (auto& a : plan.artifacts)
    if (!cache.has_blob(a.sha256))
      wanted.push_back({p.kubernetes->loc.str() + ": kubernetes artifact " + a.name, a});
  return wanted;
}

std::string listed(const std::string& head, const std::vector<std::string>& lines) {
  std::string msg = std::to_string(lines.size()) + head;
  for (const auto& l : lines) msg += "\n  - " + l;
  return msg;
}

}  // namespace

Result<std::vector<std::string>> missing_artifacts(const profile::Profile& p,
                                                   const fetch::Cache& cache,
                                                   const std::string& mirror) {
  EF_ASSIGN(auto wanted, wanted_artifacts(p, cache, mirror));
  std::vector<std::string> lines;
  for (const auto& w : wanted) lines.push_back(w.line());
  return lines;
}

Result<void> fetch_artifacts(const profile::Profile& p, fetch::Cache& cache,
                             const std::string& mirror) {
  EF_ASSIGN(auto wanted, wanted_artifacts(p, cache, mirror));
  if (wanted.empty()) return Ok{};
  std::vector<std::string> lines;
  if (cache.offline()) {
    for (const auto& w : wanted) lines.push_back(w.line());
    return Error(
        Errc::offline,
        listed(" input(s) are not in the cache " + cache.dir().string() + " (--offline):", lines));
  }
  // Every download is tried (a host that cannot be reached fails at once and
  // is not tried again), so one run names everything that is missing.
  std::optional<Errc> code;
  for (const auto& w : wanted) {
    auto blob = cache.fetch(w.artifact.url, w.artifact.sha256);
    if (blob) continue;
    lines.push_back(w.label + ": " + blob.error().message());
    if (!code || blob.error().code() != Errc::network) code = blob.error().code();
  }
  if (lines.empty()) return Ok{};
  if (lines.size() == 1) return Error(*code, lines.front());
  return Error(*code, listed(" input(s) could not be downloaded into the cache " +
                                 cache.dir().string() + ":",
                             lines) +
                          "\n(fix the network or use --artifact-mirror, or copy a cache filled "
                          "where the network is reachable: docs/cache.md)");
}

Result<void> check_packs(const profile::Profile& p, const fetch::Cache& cache) {
  std::vector<packs::Pack> loaded;
  for (const auto& ref : p.packs) {
    EF_ASSIGN(auto pack, packs::load_pack(ref, cache));
    loaded.push_back(std::move(pack));
  }
  EF_TRY(packs::check_constraints(loaded, p.kubernetes ? p.kubernetes->distribution : ""));
  std::optional<kubernetes::Delivery> delivery;
  if (p.kubernetes) {
    // Pins are checked here, not only when the build downloads.
    EF_ASSIGN(auto plan, kubernetes::plan_kubernetes(*p.kubernetes, p.artifact_mirror));
    delivery = plan.distribution.delivery;
  }
  // Renders manifests and verifies image archives, as the build will.
  for (const auto& pack : loaded) EF_TRY(packs::pack_content(pack, delivery));
  return Ok{};
}

Result<NodeLayer> make_node_layer(const profile::Profile& p, fetch::Cache& cache,
                                  const std::string& mirror_option) {
  NodeLayer layer;
  layer.record = json::object();
  std::string distribution = p.kubernetes ? p.kubernetes->distribution : "";
  std::vector<packs::Pack> loaded;
  for (const auto& ref : p.packs) {
    EF_ASSIGN(auto pack, packs::load_pack(ref, cache));
    loaded.push_back(std::move(pack));
  }
  EF_TRY(packs::check_constraints(loaded, distribution));
  // After the packs (their errors need no download), before the layer.
  EF_TRY(fetch_artifacts(p, cache, mirror_option));

  std::optional<kubernetes::Delivery> delivery;
  if (p.kubernetes) {
    EF_ASSIGN(auto k, with_node_name(p));
    EF_ASSIGN(auto k8s,
              kubernetes::make_kubernetes_layer(k, effective_mirror(p, mirror_option), cache));
    layer.content.append(k8s.content);
    for (const auto& r : k8s.requires_paths) layer.host_packages.push_back({r.path, r.package});
    delivery = k8s.distribution.delivery;
    layer.record["kubernetes"] = k8s.record;
    layer.enabled_units = k8s.enabled_units;
  }
  json pack_records = json::array();
  for (const auto& pack : loaded) {
    std::vector<packs::PackImage> images;
    EF_ASSIGN(auto content, packs::pack_content(pack, delivery, &images));
    layer.content.append(content);
    // Values are not recorded: a profile may pass credentials to a pack.
    json record = {{"name", pack.name},
                   {"version", pack.version},
                   {"layer", pack.layer},
                   {"source", shown(p, pack.source)}};
    for (const auto& archive : images) {
      json held = json::array();
      for (const auto& i : archive.images) held.push_back({{"name", i.name}, {"digest", i.digest}});
      record["images"].push_back(
          {{"path", archive.path}, {"sha256", archive.sha256}, {"images", held}});
    }
    pack_records.push_back(std::move(record));
  }
  if (!loaded.empty()) layer.record["packs"] = pack_records;
  if (!p.site.empty()) EF_TRY(add_site(p, distribution, layer.content, layer.record));
  if (!layer.empty()) layer.record["content"] = layer.content.record();
  return layer;
}

Result<void> apply_node_layer(tree::Tree& tree, const NodeLayer& layer, int64_t mtime) {
  if (layer.empty()) return Ok{};
  for (const auto& hp : layer.host_packages) {
    if (tree.find(hp.path) == nullptr)
      return Error(Errc::invalid_profile,
                   "spec.kubernetes: the base has no " + hp.path + ": add the " + hp.package +
                       " package to the base (e.g. spec.base.mmdebstrap.packages)");
  }
  return node::apply_content(tree, layer.content, mtime, "node layer");
}

}  // namespace ef::cluster
