// What a pack adds to a node: files/ as is, manifests/ rendered with the
// pack's values, charts/ as k3s HelmChart objects, images/ for preloading.
#include <algorithm>
#include <vector>

#include "builder/node/template.hpp"
#include "builder/packs/pack.hpp"
#include "builder/profile/yaml_json.hpp"
#include "builder/tree/archive_reader.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::packs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Regular files directly in `dir`, sorted by name (deterministic order).
std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<void> add_files(const Pack& p, node::Content& c) {
  fs::path root = p.dir / "files";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return Ok{};
  std::vector<fs::path> all;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    all.push_back(it->path());
  std::sort(all.begin(), all.end());
  for (const auto& path : all) {
    std::string image_path = "/" + path.lexically_relative(root).generic_string();
    auto st = fs::symlink_status(path, ec);
    auto mode = static_cast<uint32_t>(st.permissions()) & 07777;
    if (fs::is_directory(st)) {
      c.dir(image_path, "pack " + p.id(), mode);
    } else if (fs::is_symlink(st)) {
      c.link(image_path, fs::read_symlink(path, ec).string(), "pack " + p.id());
    } else if (fs::is_regular_file(st)) {
      EF_ASSIGN(auto digest, sha256_file(path));
      c.blob(image_path, path, digest, "pack " + p.id(), mode);
    } else {
      return Error(Errc::invalid_profile,
                   path.string() + ": packs hold files, directories and symlinks only");
    }
  }
  return Ok{};
}

json render_values(const Pack& p) {
  json v = p.values;
  v["pack"] = {{"name", p.name}, {"version", p.version}};
  return v;
}

Result<void> add_manifests(const Pack& p, const kubernetes::Delivery& d, node::Content& c) {
  for (const auto& f : files_in(p.dir / "manifests")) {
    std::string name = f.filename().string();
    if (!ends_with(name, ".yaml") && !ends_with(name, ".yml")) continue;
    EF_ASSIGN(auto text, read_file(f));
    EF_ASSIGN(auto rendered, node::render_template(text, render_values(p), f.string()));
    // A rendered manifest must still be YAML: catch broken values here, not
    // on the device at first boot.
    for (size_t start = 0; start < rendered.size();) {
      auto sep = rendered.find("\n---", start);
      std::string doc =
          rendered.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
      auto parsed = profile::parse_yaml_text(doc, f.string() + " (rendered)");
      if (!parsed) return std::move(parsed).error();
      if (sep == std::string::npos) break;
      start = sep + 4;
    }
    c.file(d.manifests + "/" + p.name + "-" + name, std::move(rendered), "pack " + p.id());
  }
  return Ok{};
}

Result<void> add_charts(const Pack& p, const kubernetes::Delivery& d, node::Content& c) {
  for (const auto& f : files_in(p.dir / "charts")) {
    std::string file = f.filename().string();
    if (!ends_with(file, ".tgz")) continue;
    std::string stem = file.substr(0, file.size() - 4);
    if (d.charts != "helmchart")
      return Error(Errc::invalid_profile,
                   "pack " + p.id() + ": chart " + file +
                       ": this distribution has no Helm controller; render the chart into "
                       "manifests/ instead (helm template)");
    EF_ASSIGN(auto digest, sha256_file(f));
    c.blob(d.charts_dir + "/" + file, f, digest, "pack " + p.id(), 0644);
    // Chart values: charts/<stem>.values.yaml rendered with the pack's
    // values when present, else the pack's values under the chart's stem.
    std::string values_yaml;
    fs::path values_file = p.dir / "charts" / (stem + ".values.yaml");
    if (fs::exists(values_file)) {
      EF_ASSIGN(auto text, read_file(values_file));
      EF_ASSIGN(values_yaml, node::render_template(text, render_values(p), values_file.string()));
    } else if (p.values.contains(stem)) {
      values_yaml = profile::json_to_yaml(p.values[stem]);
    }
    std::string object = p.name + "-" + stem;
    std::replace_if(
        object.begin(), object.end(),
        [](char ch) { return !(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-'); }, '-');
    std::transform(object.begin(), object.end(), object.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    json helm = {{"apiVersion", "helm.cattle.io/v1"},
                 {"kind", "HelmChart"},
                 {"metadata", {{"name", object}, {"namespace", "kube-system"}}},
                 {"spec",
                  {{"chart", "https://%{KUBERNETES_API}%/static/charts/" + file},
                   {"targetNamespace", p.values.value("namespace", std::string("default"))},
                   {"createNamespace", true}}}};
    if (!values_yaml.empty()) helm["spec"]["valuesContent"] = values_yaml;
    c.file(d.manifests + "/" + object + ".yaml", profile::json_to_yaml(helm), "pack " + p.id());
  }
  return Ok{};
}

// An image archive must be a docker-save or OCI archive; a stray file would
// only fail on the device, offline.
Result<void> check_image_archive(const fs::path& f) {
  EF_ASSIGN(auto members, tree::list_archive_members(f.string()));
  if (members.count("manifest.json") == 0 && members.count("index.json") == 0)
    return Error(Errc::archive, f.string() +
                                    ": not a container image archive (no manifest.json or "
                                    "index.json; use docker save or an OCI archive)");
  return Ok{};
}

Result<void> add_images(const Pack& p, const kubernetes::Delivery& d, node::Content& c) {
  for (const auto& f : files_in(p.dir / "images")) {
    std::string file = f.filename().string();
    if (!ends_with(file, ".tar") && !ends_with(file, ".tar.gz") && !ends_with(file, ".tar.zst"))
      continue;
    EF_TRY(check_image_archive(f));
    EF_ASSIGN(auto digest, sha256_file(f));
    c.blob(d.images + "/" + p.name + "-" + file, f, digest, "pack " + p.id(), 0644);
  }
  return Ok{};
}

}  // namespace

Result<node::Content> pack_content(const Pack& p, const std::optional<kubernetes::Delivery>& d) {
  node::Content c;
  EF_TRY(add_files(p, c));
  bool has_k8s_content = !files_in(p.dir / "manifests").empty() ||
                         !files_in(p.dir / "charts").empty() || !files_in(p.dir / "images").empty();
  if (!has_k8s_content) return c;
  if (!d)
    return Error(Errc::invalid_profile, p.loc.str() + ": pack " + p.id() +
                                            " has manifests, charts or images, which need "
                                            "spec.kubernetes");
  auto with_ctx = [&](Result<void> r) -> Result<void> {
    if (!r) return std::move(r).error().with_context(p.loc.str() + ": pack " + p.id());
    return Ok{};
  };
  EF_TRY(with_ctx(add_manifests(p, *d, c)));
  EF_TRY(with_ctx(add_charts(p, *d, c)));
  EF_TRY(with_ctx(add_images(p, *d, c)));
  return c;
}

}  // namespace ef::packs
