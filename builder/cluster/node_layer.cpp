#include "builder/cluster/node_layer.hpp"

#include <optional>

#include "builder/kubernetes/kubernetes_layer.hpp"
#include "builder/packs/pack.hpp"
#include "builder/site/site.hpp"
#include "util/atomic_file.hpp"

namespace ef::cluster {

using nlohmann::json;

namespace {

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

}  // namespace

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
    std::vector<std::string> missing;
    for (const auto& a : plan.artifacts)
      if (cache.offline() && !cache.has_blob(a.sha256))
        missing.push_back(p.kubernetes->loc.str() + ": kubernetes artifact " + a.name + " (" +
                          a.url + ", sha256 " + a.sha256 + ")");
    if (!missing.empty()) {
      std::string msg = std::to_string(missing.size()) + " artifact(s) are not in the cache " +
                        cache.dir().string() + " (--offline):";
      for (const auto& m : missing) msg += "\n  - " + m;
      return Error(Errc::offline, msg);
    }
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

  std::optional<kubernetes::Delivery> delivery;
  if (p.kubernetes) {
    std::string mirror = mirror_option.empty() ? p.artifact_mirror : mirror_option;
    EF_ASSIGN(auto k8s, kubernetes::make_kubernetes_layer(*p.kubernetes, mirror, cache));
    layer.content.append(k8s.content);
    for (const auto& r : k8s.requires_paths) layer.host_packages.push_back({r.path, r.package});
    delivery = k8s.distribution.delivery;
    layer.record["kubernetes"] = k8s.record;
  }
  json pack_records = json::array();
  for (const auto& pack : loaded) {
    EF_ASSIGN(auto content, packs::pack_content(pack, delivery));
    layer.content.append(content);
    // Values are not recorded: a profile may pass credentials to a pack.
    pack_records.push_back({{"name", pack.name}, {"version", pack.version}, {"layer", pack.layer}});
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
