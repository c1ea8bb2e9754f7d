// What a pack adds to a node: files/ as is, manifests/ rendered with the
// pack's values, charts/ as k3s HelmChart objects or (kubeadm) archives a
// first-boot unit installs with helm, images/ (verified) for preloading.
#include <algorithm>
#include <regex>
#include <vector>

#include "builder/node/template.hpp"
#include "builder/packs/image_archive.hpp"
#include "builder/packs/pack.hpp"
#include "builder/profile/yaml_json.hpp"
#include "util/atomic_file.hpp"
#include "util/json_fields.hpp"
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

// The k3s way: a HelmChart object in the auto-deploy folder, pointing at the
// archive k3s serves from its static charts folder.
std::string helmchart_object(const std::string& object, const std::string& file,
                             const std::string& ns, const std::string& values_yaml) {
  json helm = {{"apiVersion", "helm.cattle.io/v1"},
               {"kind", "HelmChart"},
               {"metadata", {{"name", object}, {"namespace", "kube-system"}}},
               {"spec",
                {{"chart", "https://%{KUBERNETES_API}%/static/charts/" + file},
                 {"targetNamespace", ns},
                 {"createNamespace", true}}}};
  if (!values_yaml.empty()) helm["spec"]["valuesContent"] = values_yaml;
  return profile::json_to_yaml(helm);
}

// "podinfo-6.5.0" of pack "addon" -> "addon-podinfo-6-5-0": a Kubernetes
// object name and Helm release name.
std::string object_name(const Pack& p, const std::string& stem) {
  std::string object = p.name + "-" + stem;
  std::replace_if(
      object.begin(), object.end(),
      [](char ch) { return !(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-'); }, '-');
  std::transform(object.begin(), object.end(), object.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return object;
}

Result<void> add_charts(const Pack& p, const kubernetes::Delivery& d, node::Content& c) {
  for (const auto& f : files_in(p.dir / "charts")) {
    std::string file = f.filename().string();
    if (!ends_with(file, ".tgz")) continue;
    std::string stem = file.substr(0, file.size() - 4);
    if (d.charts != "helmchart" && d.charts != "helm-install")
      return Error(Errc::invalid_profile,
                   "pack " + p.id() + ": chart " + file +
                       ": this distribution installs no charts; render the chart into "
                       "manifests/ instead (helm template)");
    static const std::regex safe_file("[A-Za-z0-9][A-Za-z0-9._+-]*");
    if (!std::regex_match(file, safe_file))
      return Error(Errc::invalid_profile,
                   "charts/" + file + ": chart file names are letters, digits and . _ + -");
    const json* given = member_of(p.values, "namespace");
    std::string ns = !given ? "default" : given->is_string() ? given->get<std::string>() : "";
    static const std::regex dns_label("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    if (!std::regex_match(ns, dns_label))
      return Error(Errc::invalid_profile, "values.namespace: '" + ns +
                                              "' is not a Kubernetes namespace name "
                                              "([a-z0-9-], at most 63 characters)");
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
    std::string object = object_name(p, stem);
    if (d.charts == "helmchart") {
      c.file(d.manifests + "/" + object + ".yaml", helmchart_object(object, file, ns, values_yaml),
             "pack " + p.id());
      continue;
    }
    // helm-install (kubeadm): the archive, its values and a one-line
    // release file "<release> <namespace> <chart file>" that the node's
    // edgeforge-install-charts.service hands to `helm upgrade --install`.
    if (object.size() > 53)
      return Error(Errc::invalid_profile, "charts/" + file + ": the Helm release name '" + object +
                                              "' is longer than 53 characters");
    c.file(d.charts_dir + "/" + object + ".values.yaml",
           values_yaml.empty() ? std::string("{}\n") : values_yaml, "pack " + p.id());
    c.file(d.charts_dir + "/" + object + ".release", object + " " + ns + " " + file + "\n",
           "pack " + p.id());
  }
  return Ok{};
}

Result<void> add_images(const Pack& p, const kubernetes::Delivery& d, node::Content& c,
                        std::vector<PackImage>* images) {
  for (const auto& f : files_in(p.dir / "images")) {
    std::string file = f.filename().string();
    if (!ends_with(file, ".tar") && !ends_with(file, ".tar.gz") && !ends_with(file, ".tar.zst"))
      continue;
    EF_ASSIGN(auto held, verify_image_archive(f, "images/" + file));
    EF_ASSIGN(auto digest, sha256_file(f));
    std::string path = d.images + "/" + p.name + "-" + file;
    c.blob(path, f, digest, "pack " + p.id(), 0644);
    if (images) images->push_back({path, digest, std::move(held)});
  }
  return Ok{};
}

}  // namespace

Result<node::Content> pack_content(const Pack& p, const std::optional<kubernetes::Delivery>& d,
                                   std::vector<PackImage>* images) {
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
  EF_TRY(with_ctx(add_images(p, *d, c, images)));
  return c;
}

}  // namespace ef::packs
