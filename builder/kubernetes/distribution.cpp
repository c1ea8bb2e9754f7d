#include "builder/kubernetes/distribution.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "builder/node/template.hpp"
#include "builder/profile/yaml_json.hpp"
#include "util/atomic_file.hpp"

#ifndef EF_DATA_DIR
#define EF_DATA_DIR "."
#endif
#ifndef EF_SHARE_DIR
#define EF_SHARE_DIR "/usr/local/share/edgeforge"
#endif

namespace ef::kubernetes {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path data_dir() {
  if (const char* d = std::getenv("EDGEFORGE_DATA_DIR"); d != nullptr && *d != '\0') return d;
  std::error_code ec;
  auto has_layers = [&](const fs::path& dir) { return fs::is_directory(dir / "layers", ec); };
  // An installed edgeforge (PREFIX/bin/edgeforge) reads PREFIX/share/edgeforge,
  // wherever PREFIX is; one run from its build tree reads its source tree.
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path beside = exe.parent_path().parent_path() / "share" / "edgeforge";
    if (has_layers(beside)) return beside;
  }
  if (has_layers(EF_DATA_DIR)) return EF_DATA_DIR;
  return EF_SHARE_DIR;
}

namespace {

std::string join(const json& arr) {
  std::string out;
  for (const auto& v : arr) out += (out.empty() ? "" : ", ") + v.get<std::string>();
  return out;
}

}  // namespace

Result<Distribution> load_distribution(const profile::Kubernetes& k) {
  std::string where = k.loc.str() + ": spec.kubernetes";
  fs::path file = data_dir() / "layers" / "kubernetes" / (k.distribution + ".yaml");
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    std::string known;
    for (const auto& e : fs::directory_iterator(file.parent_path(), ec))
      if (e.path().extension() == ".yaml") known += " " + e.path().stem().string();
    return Error(Errc::invalid_profile, where + ".distribution: unknown distribution '" +
                                            k.distribution + "' (known:" + known + ")");
  }
  EF_ASSIGN(auto text, read_file(file));
  // Version parts for templates such as crictl's v{{major}}.{{minor}}.0.
  std::smatch m;
  static const std::regex ver("v?([0-9]+)\\.([0-9]+)\\.([0-9]+).*");
  json vars = {{"version", k.version}, {"arch", k.arch}};
  if (std::regex_match(k.version, m, ver)) {
    vars["major"] = m[1].str();
    vars["minor"] = m[2].str();
    vars["patch"] = m[3].str();
  }
  // First pass: read the arch table and roles (no template needed for them).
  EF_ASSIGN(auto raw, profile::parse_yaml_text(text, file.string()));
  if (!raw.contains("arch") || !raw["arch"].contains(k.arch))
    return Error(Errc::invalid_profile,
                 where + ".arch: " + k.distribution + " has no '" + k.arch + "' artifacts");
  for (const auto& [key, value] : raw["arch"][k.arch].items()) vars[key] = value;
  Distribution d;
  d.name = k.distribution;
  d.file = file;
  d.role = k.role.empty() ? raw.value("defaultRole", "") : k.role;
  const json roles = raw.value("roles", json::array());
  if (std::find(roles.begin(), roles.end(), json(d.role)) == roles.end())
    return Error(Errc::invalid_profile, where + ".role: " + k.distribution + " has no role '" +
                                            d.role + "' (roles: " + join(roles) + ")");
  vars["role"] = d.role;
  EF_ASSIGN(auto rendered, node::render_template(text, vars, file.string()));
  EF_ASSIGN(d.definition, profile::parse_yaml_text(rendered, file.string()));
  const json del = d.definition.value("delivery", json::object());
  d.delivery.images = del.value("images", "");
  d.delivery.manifests = del.value("manifests", "");
  d.delivery.charts = del.value("charts", "unsupported");
  d.delivery.charts_dir = del.value("chartsDir", "");
  d.delivery.registries = del.value("registries", "");
  return d;
}

std::string mirror_url(const std::string& url, const std::string& mirror) {
  if (mirror.empty()) return url;
  auto scheme = url.find("://");
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  std::string base = mirror;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + rest;
}

}  // namespace ef::kubernetes
