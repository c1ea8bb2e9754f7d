// spec.kubernetes, spec.packs, spec.site and spec.artifactMirror: the keys a
// cluster profile adds on top of a system profile.
#include <regex>

#include "builder/profile/input_parser.hpp"
#include "builder/profile/profile_parser.hpp"
#include "builder/profile/schema_node.hpp"
#include "builder/profile/yaml_json.hpp"

namespace fs = std::filesystem;

namespace ef::profile::detail {
namespace {

bool is_sha256(const std::string& s) {
  static const std::regex re("[0-9a-f]{64}");
  return std::regex_match(s, re);
}

Result<std::string> token(const SchemaNode& node, const char* pattern, const char* what) {
  EF_ASSIGN(auto value, node.as_string());
  if (!std::regex_match(value, std::regex(pattern)))
    return node.error("expected " + std::string(what) + ", got \"" + value + "\"");
  return value;
}

Result<nlohmann::json> mapping(const SchemaNode& node) {
  if (node.is_null()) return nlohmann::json::object();
  if (!node.yaml().IsMap()) return node.error("expected a mapping, got " + node.describe());
  return yaml_to_json(node.yaml());
}

Result<ArtifactOverride> parse_override(const SchemaNode& node) {
  EF_TRY(node.expect_map({"url", "sha256"}));
  ArtifactOverride o;
  o.loc = node.loc();
  if (auto n = node.get("url")) {
    EF_ASSIGN(o.url, token(*n, "(https?|file)://\\S+", "an http(s):// or file:// URL"));
  }
  if (auto n = node.get("sha256")) {
    EF_ASSIGN(o.sha256, n->as_string());
    if (!is_sha256(o.sha256)) return n->error("expected 64 lower-case hex digits");
  }
  return o;
}

Result<Kubernetes> parse_kubernetes(const SchemaNode& node) {
  EF_TRY(node.expect_map({"distribution", "version", "role", "arch", "config", "artifacts"}));
  Kubernetes k;
  k.loc = node.loc();
  if (auto n = node.get("distribution")) {
    EF_ASSIGN(k.distribution,
              token(*n, "[a-z0-9][a-z0-9-]*", "a distribution name (k3s, kubeadm)"));
  }
  if (auto n = node.get("version")) {
    EF_ASSIGN(k.version, token(*n, "v?[0-9]+\\.[0-9]+\\.[0-9]+[-+.a-zA-Z0-9]*",
                               "a Kubernetes version like v1.30.4+k3s1"));
  }
  if (auto n = node.get("role")) {
    EF_ASSIGN(k.role, token(*n, "[a-z-]+", "a role name"));
  }
  if (auto n = node.get("arch")) {
    EF_ASSIGN(k.arch, token(*n, "amd64|arm64", "amd64 or arm64"));
  }
  if (auto n = node.get("config")) {
    EF_ASSIGN(k.config, mapping(*n));
  }
  if (auto n = node.get("artifacts")) {
    if (!n->yaml().IsMap()) return n->error("expected a mapping, got " + n->describe());
    for (const auto& kv : n->yaml()) {
      std::string name = kv.first.Scalar();
      auto child = n->get(name);
      EF_ASSIGN(k.artifacts[name], parse_override(*child));
    }
  }
  return k;
}

Result<PackRef> parse_pack(const SchemaNode& node, const fs::path& dir) {
  EF_TRY(node.expect_map({"path", "values"}));
  PackRef ref;
  ref.loc = node.loc();
  EF_ASSIGN(auto p, node.require("path"));
  EF_ASSIGN(auto text, p.as_string());
  ref.path = resolve_path(dir, text);
  std::error_code ec;
  if (!fs::exists(ref.path, ec))
    return p.error("pack not found: " + ref.path.string(), Errc::not_found);
  if (auto v = node.get("values")) {
    EF_ASSIGN(ref.values, mapping(*v));
  }
  return ref;
}

}  // namespace

Result<void> parse_cluster_keys(const SchemaNode& spec, const fs::path& dir, PartialProfile& out) {
  if (auto n = spec.get("kubernetes")) {
    EF_ASSIGN(out.kubernetes, parse_kubernetes(*n));
  }
  if (auto n = spec.get("packs")) {
    EF_ASSIGN(auto items, n->items());
    for (const auto& item : items) {
      EF_ASSIGN(auto pack, parse_pack(item, dir));
      out.packs.push_back(std::move(pack));
    }
  }
  if (auto n = spec.get("site")) {
    EF_ASSIGN(auto text, n->as_string());
    fs::path site = resolve_path(dir, text);
    std::error_code ec;
    if (!fs::is_regular_file(site, ec))
      return n->error("site file not found: " + site.string(), Errc::not_found);
    out.site = site;
  }
  if (auto n = spec.get("artifactMirror")) {
    EF_ASSIGN(out.artifact_mirror,
              token(*n, "(https?|file)://\\S+", "an http(s):// or file:// URL"));
  }
  return Ok{};
}

}  // namespace ef::profile::detail
