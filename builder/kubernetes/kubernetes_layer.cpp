#include "builder/kubernetes/kubernetes_layer.hpp"

#include <algorithm>

#include "builder/profile/yaml_json.hpp"
#include "builder/tree/archive_reader.hpp"
#include "util/atomic_file.hpp"

namespace ef::kubernetes {

namespace {

using nlohmann::json;
constexpr uint64_t kMaxExtracted = 1ull << 30;

bool for_role(const json& item, const std::string& role) {
  if (!item.contains("roles")) return true;
  const auto& roles = item["roles"];
  return std::find(roles.begin(), roles.end(), json(role)) != roles.end();
}

uint32_t mode_of(const json& item, uint32_t fallback) {
  if (!item.contains("mode")) return fallback;
  return static_cast<uint32_t>(std::stoul(item["mode"].get<std::string>(), nullptr, 8)) & 07777;
}

std::string origin_of(const Distribution& d) {
  return "kubernetes " + d.name;
}

// Reads one member of a (compressed) tar archive into memory.
Result<std::string> extract_member(const std::filesystem::path& archive, const std::string& member,
                                   const std::string& label) {
  tree::SourceInfo src;
  src.path = archive.string();
  src.label = label;
  EF_ASSIGN(auto reader, tree::ArchiveReader::open(src));
  tree::ArchiveEntry entry;
  while (true) {
    EF_ASSIGN(bool more, reader->next(entry));
    if (!more) break;
    std::string name = entry.path;
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    if (name == member && entry.inode.type == tree::NodeType::regular)
      return reader->read_all(entry.inode.size, kMaxExtracted);
  }
  return Error(Errc::archive, label + ": the archive has no member '" + member + "'");
}

}  // namespace

std::string wants_link(const std::string& wanted_by, const std::string& unit) {
  return "/etc/systemd/system/" + wanted_by + ".wants/" + unit;
}

Result<std::vector<Artifact>> resolve_artifacts(const Distribution& d, const profile::Kubernetes& k,
                                                const std::string& mirror) {
  std::vector<Artifact> out;
  for (const auto& a : d.definition.value("artifacts", json::array())) {
    // Optional artifacts (k3s's airgap images) only when the profile names them.
    if (a.value("optional", false) && k.artifacts.count(a.at("name").get<std::string>()) == 0)
      continue;
    Artifact art;
    art.name = a.at("name").get<std::string>();
    art.url = mirror_url(a.at("url").get<std::string>(), mirror);
    art.sha256 = a.value("sha256", "");
    // Digests the definition already knows, by version and arch, so a
    // profile naming a known release needs no pin of its own.
    const json known = a.value("sha256ByVersion", json::object());
    if (art.sha256.empty() && known.contains(k.version) && known[k.version].contains(k.arch))
      art.sha256 = known[k.version][k.arch].get<std::string>();
    art.destination = a.at("destination").get<std::string>();
    art.extract = a.value("extract", "");
    art.mode = mode_of(a, 0755);
    if (auto it = k.artifacts.find(art.name); it != k.artifacts.end()) {
      if (!it->second.url.empty()) art.url = it->second.url;
      if (!it->second.sha256.empty()) art.sha256 = it->second.sha256;
    }
    if (art.sha256.empty())
      return Error(Errc::invalid_profile,
                   k.loc.str() + ": spec.kubernetes.artifacts." + art.name +
                       ".sha256 is required: pin the digest upstream publishes at " +
                       a.value("sha256Source", std::string("the release page")));
    out.push_back(std::move(art));
  }
  for (const auto& [name, o] : k.artifacts) {
    // A plain reference: clang 14 cannot capture structured bindings.
    const std::string& wanted = name;
    bool known =
        std::any_of(out.begin(), out.end(), [&](const Artifact& a) { return a.name == wanted; });
    if (!known)
      return Error(Errc::invalid_profile, o.loc.str() + ": spec.kubernetes.artifacts." + name +
                                              ": " + d.name + " has no artifact named '" + name +
                                              "'");
  }
  return out;
}

Result<std::string> render_native_config(const Distribution& d, const json& config) {
  const json& c = d.definition.at("config");
  std::string format = c.value("format", "yaml");
  if (format == "yaml") {
    json merged = c.value("defaults", json::object());
    const json role_defaults = c.value("roleDefaults", json::object());
    if (role_defaults.contains(d.role)) merged.merge_patch(role_defaults[d.role]);
    merged.merge_patch(config);
    return "# Rendered by edgeforge from spec.kubernetes.config.\n" + profile::json_to_yaml(merged);
  }
  if (format == "documents") {
    std::string out = "# Rendered by edgeforge from spec.kubernetes.config.\n";
    std::vector<std::string> keys;
    bool first = true;
    for (const auto& doc : c.at("documents")) {
      std::string key = doc.at("key").get<std::string>();
      keys.push_back(key);
      if (!for_role(doc, d.role)) continue;
      json merged = doc.value("defaults", json::object());
      if (config.contains(key)) merged.merge_patch(config[key]);
      out += (first ? "---\n" : "---\n") + profile::json_to_yaml(merged);
      first = false;
    }
    for (const auto& [key, value] : config.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
        return Error(Errc::invalid_profile, "spec.kubernetes.config." + key + ": " + d.name +
                                                " config has the documents " + list);
      }
    }
    return out;
  }
  return Error(Errc::internal, d.file.string() + ": unknown config format '" + format + "'");
}

namespace {

Result<KubernetesLayer> make_layer(const profile::Kubernetes& k, const std::string& mirror,
                                   fetch::Cache& cache, Distribution dist) {
  KubernetesLayer layer;
  layer.distribution = std::move(dist);
  const Distribution& d = layer.distribution;
  const json& def = d.definition;
  std::string origin = origin_of(d);
  EF_ASSIGN(layer.artifacts, resolve_artifacts(d, k, mirror));
  json artifact_records = json::array();
  for (const auto& a : layer.artifacts) {
    std::string label = "kubernetes artifact " + a.name + " (" + a.url + ")";
    auto blob = cache.fetch(a.url, a.sha256);
    if (!blob) {
      Error e = std::move(blob).error().with_context(label);
      if (e.code() != Errc::checksum) return e;
      // Say what to do: the bytes are wrong, or the pin is.
      return Error(Errc::checksum, e.message() +
                                       " (the download is not the pinned artifact: check "
                                       "the mirror, or spec.kubernetes.artifacts." +
                                       a.name + ".sha256)");
    }
    if (a.extract.empty()) {
      layer.content.blob(a.destination, *blob, a.sha256, origin, a.mode);
    } else {
      EF_ASSIGN(auto bytes, extract_member(*blob, a.extract, label));
      layer.content.file(a.destination, std::move(bytes), origin, a.mode);
    }
    artifact_records.push_back(
        {{"name", a.name}, {"url", a.url}, {"sha256", a.sha256}, {"destination", a.destination}});
  }
  for (const auto& r : def.value("requires", json::array()))
    layer.requires_paths.push_back({r.at("path").get<std::string>(), r.value("package", "")});
  for (const auto& dir : def.value("directories", json::array()))
    layer.content.dir(dir.get<std::string>(), origin);
  const json links = def.value("links", json::object());
  for (const auto& [path, target] : links.items())
    layer.content.link(path, target.get<std::string>(), origin);
  for (const auto& f : def.value("files", json::array())) {
    if (!for_role(f, d.role)) continue;
    std::string bytes = f.value("content", "");
    if (f.contains("source")) {
      // A file beside the definition (e.g. reboot-lock.sh), kept as a file
      // of its own so it can be read, linted and tested as what it is.
      std::filesystem::path source = d.file.parent_path() / f.at("source").get<std::string>();
      auto text = read_file(source);
      if (!text)
        return Error(Errc::invalid_profile,
                     d.file.string() + ": files: " + f.at("path").get<std::string>() + ": source " +
                         source.string() + ": " + text.error().message());
      bytes = std::move(*text);
    }
    layer.content.file(f.at("path").get<std::string>(), std::move(bytes), origin, mode_of(f, 0644));
  }
  json enabled = json::array();
  for (const auto& e : def.value("enable", json::array())) {
    if (!for_role(e, d.role)) continue;
    std::string unit = e.at("unit").get<std::string>();
    std::string wanted_by = e.value("wantedBy", "multi-user.target");
    // What `systemctl enable` does: an absolute link to the unit file.
    layer.content.link(wants_link(wanted_by, unit), "/etc/systemd/system/" + unit, origin);
    enabled.push_back(unit);
    layer.enabled_units.push_back(unit);
  }
  if (def.contains("config")) {
    auto text = render_native_config(d, k.config);
    if (!text) return std::move(text).error().with_context(k.loc.str());
    const json& c = def["config"];
    // Native configs carry join tokens and the like: secret.
    layer.content.file(c.at("path").get<std::string>(), std::move(*text), origin, mode_of(c, 0600),
                       /*secret=*/true);
  }
  layer.record = {
      {"distribution", d.name}, {"version", k.version},          {"role", d.role},
      {"arch", k.arch},         {"artifacts", artifact_records}, {"enabledUnits", enabled}};
  return layer;
}

}  // namespace

Result<KubernetesPlan> plan_kubernetes(const profile::Kubernetes& k, const std::string& mirror) {
  KubernetesPlan plan;
  EF_ASSIGN(plan.distribution, load_distribution(k));
  try {
    EF_ASSIGN(plan.artifacts, resolve_artifacts(plan.distribution, k, mirror));
  } catch (const nlohmann::json::exception& e) {
    return Error(Errc::invalid_profile, plan.distribution.file.string() +
                                            ": malformed distribution definition: " + e.what());
  }
  return plan;
}

Result<KubernetesLayer> make_kubernetes_layer(const profile::Kubernetes& k,
                                              const std::string& mirror, fetch::Cache& cache) {
  EF_ASSIGN(auto dist, load_distribution(k));
  std::string file = dist.file.string();
  // A definition with a wrong type (a list where a string belongs) surfaces
  // as a JSON type error: report it against the file, as one line.
  try {
    return make_layer(k, mirror, cache, std::move(dist));
  } catch (const nlohmann::json::exception& e) {
    return Error(Errc::invalid_profile, file + ": malformed distribution definition: " + e.what());
  }
}

}  // namespace ef::kubernetes
