#include "builder/packs/pack.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "builder/profile/yaml_json.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::packs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kLayers = {"os", "k8s", "cni", "csi", "addon", "system"};

Result<std::vector<PackConstraint>> constraints(const json& list, const std::string& where) {
  std::vector<PackConstraint> out;
  if (!list.is_array()) return Error(Errc::invalid_profile, where + ": expected a list");
  for (const auto& item : list) {
    if (!item.is_object() || !item.contains("name") || !item["name"].is_string())
      return Error(Errc::invalid_profile, where + ": each entry needs a name");
    if (item.contains("version") && !item["version"].is_string())
      return Error(Errc::invalid_profile, where + ": " + item["version"].dump() +
                                              " is not a version range (quote it: \">=1.2.0\")");
    std::string text = item.contains("version") ? item["version"].get<std::string>() : "*";
    auto range = VersionRange::parse(text);
    if (!range)
      return Error(Errc::invalid_profile, where + ": " + range.error().message() +
                                              " (a version range is e.g. \">=1.2.0 <2.0.0\")");
    out.push_back({item["name"].get<std::string>(), *range});
  }
  return out;
}

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

Result<fs::path> extract_pack_archive(const fs::path& archive, const fetch::Cache& cache);

Result<Pack> load_pack(const profile::PackRef& ref, const fetch::Cache& cache) {
  Pack p;
  p.source = ref.path;
  p.loc = ref.loc;
  std::string where = ref.loc.str() + ": pack " + ref.path.string();
  std::error_code ec;
  if (fs::is_directory(ref.path, ec)) {
    p.dir = ref.path;
  } else {
    auto dir = extract_pack_archive(ref.path, cache);
    if (!dir) return std::move(dir).error().with_context(where);
    p.dir = *dir;
  }
  fs::path manifest = p.dir / "pack.yaml";
  auto text = read_file(manifest);
  if (!text) return Error(Errc::invalid_profile, where + ": no pack.yaml in the pack");
  EF_ASSIGN(auto y, profile::parse_yaml_text(*text, manifest.string()));
  std::string file = manifest.string();
  if (!y.is_object()) return Error(Errc::invalid_profile, file + ": expected a mapping");
  for (const auto& [key, value] : y.items()) {
    static const std::vector<std::string> allowed = {"name",        "version",     "layer",
                                                     "description", "constraints", "values"};
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return Error(Errc::invalid_profile, file + ": unknown key '" + key + "'");
  }
  p.name = str(y, "name");
  static const std::regex name_re("[a-z0-9][a-z0-9.-]*");
  if (!std::regex_match(p.name, name_re))
    return Error(Errc::invalid_profile,
                 file + ": name: expected [a-z0-9][a-z0-9.-]*, got '" + p.name + "'");
  p.version = str(y, "version");
  auto sv = SemVer::parse(p.version);
  if (!sv)
    return Error(Errc::invalid_profile,
                 file + ": version: expected semver like 1.2.3, got '" + p.version + "'");
  p.semver = *sv;
  p.layer = str(y, "layer");
  if (std::find(kLayers.begin(), kLayers.end(), p.layer) == kLayers.end())
    return Error(
        Errc::invalid_profile,
        file + ": layer: expected os, k8s, cni, csi, addon or system, got '" + p.layer + "'");
  if (y.contains("constraints")) {
    const json& c = y["constraints"];
    if (c.contains("depends")) {
      EF_ASSIGN(p.depends, constraints(c["depends"], file + ": constraints.depends"));
    }
    if (c.contains("conflicts")) {
      EF_ASSIGN(p.conflicts, constraints(c["conflicts"], file + ": constraints.conflicts"));
    }
    if (c.contains("distributions")) {
      const json& list = c["distributions"];
      if (!list.is_array())
        return Error(Errc::invalid_profile,
                     file + ": constraints.distributions: expected a list of names");
      for (const auto& d : list) {
        if (!d.is_string())
          return Error(Errc::invalid_profile,
                       file + ": constraints.distributions: expected a list of names, found " +
                           d.dump().substr(0, 40));
        p.distributions.push_back(d.get<std::string>());
      }
    }
  }
  if (y.contains("values") && y["values"].is_object()) p.defaults = y["values"];
  p.values = p.defaults;
  p.values.merge_patch(ref.values);
  return p;
}

Result<void> check_constraints(const std::vector<Pack>& packs, const std::string& distribution) {
  std::map<std::string, const Pack*> by_name;
  for (const auto& p : packs) {
    auto [it, fresh] = by_name.emplace(p.name, &p);
    if (!fresh)
      return Error(Errc::invalid_profile, p.loc.str() + ": pack " + p.id() +
                                              " is listed twice (also " + it->second->id() +
                                              " at " + it->second->loc.str() + ")");
  }
  for (const auto& p : packs) {
    for (const auto& dep : p.depends) {
      auto it = by_name.find(dep.name);
      if (it == by_name.end())
        return Error(Errc::invalid_profile, p.loc.str() + ": pack " + p.id() + " depends on " +
                                                dep.name + " " + dep.range.text() +
                                                ", which the profile does not include");
      if (!dep.range.contains(it->second->semver))
        return Error(Errc::invalid_profile, p.loc.str() + ": pack " + p.id() + " depends on " +
                                                dep.name + " " + dep.range.text() +
                                                ", but the profile has " + it->second->id());
    }
    for (const auto& con : p.conflicts) {
      auto it = by_name.find(con.name);
      if (it != by_name.end() && con.range.contains(it->second->semver))
        return Error(Errc::invalid_profile, p.loc.str() + ": pack " + p.id() + " conflicts with " +
                                                it->second->id() + " (conflicts: " + con.name +
                                                " " + con.range.text() + ")");
    }
    if (!p.distributions.empty()) {
      bool ok = std::find(p.distributions.begin(), p.distributions.end(), distribution) !=
                p.distributions.end();
      if (!ok) {
        std::string list;
        for (const auto& d : p.distributions) list += (list.empty() ? "" : ", ") + d;
        return Error(
            Errc::invalid_profile,
            p.loc.str() + ": pack " + p.id() + " supports the distributions " + list +
                ", but the profile uses " +
                (distribution.empty() ? std::string("none (no spec.kubernetes)") : distribution));
      }
    }
  }
  return Ok{};
}

}  // namespace ef::packs
