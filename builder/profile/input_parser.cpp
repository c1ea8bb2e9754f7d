#include "builder/profile/input_parser.hpp"

#include <system_error>

#include "builder/profile/values.hpp"
#include "util/sha256.hpp"

namespace fs = std::filesystem;

namespace ef::profile::detail {
namespace {

enum class Expect { file, directory, file_or_directory };

// Resolves a local input and checks that it exists and has the right type,
// so a typo fails at load time with its location, not halfway into a build.
Result<fs::path> local_path(const SchemaNode& node, const fs::path& dir, Expect expect) {
  EF_ASSIGN(auto text, node.as_string());
  if (text.empty()) return node.error("must not be empty");
  fs::path path = resolve_path(dir, text);
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    const char* what = expect == Expect::directory ? "directory" : "file";
    return node.error(std::string(what) + " not found: " + path.string(), Errc::not_found);
  }
  if (ec) return node.error("cannot access " + path.string() + ": " + ec.message());
  if (expect == Expect::directory && !fs::is_directory(st)) {
    return node.error("not a directory: " + path.string());
  }
  if (expect == Expect::file && fs::is_directory(st)) {
    return node.error("is a directory, expected a file: " + path.string());
  }
  return path;
}

Result<std::string> parse_sha256(const SchemaNode& node) {
  EF_ASSIGN(auto text, node.as_string());
  if (!is_sha256_hex(text)) return node.error("expected 64 hex characters, got \"" + text + "\"");
  for (char& c : text) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// These two check the Result in place: moving the string out first trips
// GCC 12's -Wmaybe-uninitialized false positive on std::variant at -O2.
Result<std::string> parse_url(const SchemaNode& node) {
  auto text = node.as_string();
  if (text && text->rfind("https://", 0) != 0 && text->rfind("http://", 0) != 0) {
    return node.error("expected an http:// or https:// URL, got \"" + *text + "\"");
  }
  return text;
}

// A string that ends up as a command-line argument (mmdebstrap): one that
// starts with '-' would be read as an option.
Result<std::string> parse_argument(const SchemaNode& node) {
  auto text = node.as_string();
  if (text && text->empty()) return node.error("must not be empty");
  if (text && text->front() == '-') return node.error("must not start with '-'");
  return text;
}

Result<std::vector<std::string>> parse_arguments(const SchemaNode& node) {
  EF_ASSIGN(auto list, node.items());
  std::vector<std::string> out;
  for (const auto& item : list) {
    EF_ASSIGN(auto arg, parse_argument(item));
    out.push_back(std::move(arg));
  }
  return out;
}

// An artifact mapping: {path: ...} or {url: ..., sha256: ...}, plus `ref`
// when `oci_ref` is given.
Result<ArtifactRef> parse_artifact(const SchemaNode& node, const fs::path& dir, Expect expect,
                                   std::string* oci_ref) {
  if (oci_ref) {
    EF_TRY(node.expect_map({"path", "url", "sha256", "ref"}));
  } else {
    EF_TRY(node.expect_map({"path", "url", "sha256"}));
  }
  EF_ASSIGN(auto kind, node.one_of({"path", "url"}));
  ArtifactRef ref;
  ref.loc = node.loc();
  if (auto sha = node.get("sha256")) {
    EF_ASSIGN(ref.sha256, parse_sha256(*sha));
  }
  if (kind == "path") {
    EF_ASSIGN(ref.path, local_path(*node.get("path"), dir, expect));
  } else {
    EF_ASSIGN(ref.url, parse_url(*node.get("url")));
    if (ref.sha256.empty()) {
      return node.error("url needs sha256 (downloads are pinned to their digest)");
    }
  }
  if (auto r = node.get("ref")) {
    EF_ASSIGN(*oci_ref, r->as_string());
  }
  return ref;
}

Result<OciSource> parse_oci(const SchemaNode& node, const fs::path& dir) {
  OciSource oci;
  // An OCI layout is a directory; docker-save and OCI archives are files.
  EF_ASSIGN(oci.source, parse_artifact(node, dir, Expect::file_or_directory, &oci.ref));
  return oci;
}

Result<MmdebstrapRecipe> parse_mmdebstrap(const SchemaNode& node) {
  EF_TRY(node.expect_map({"suite", "variant", "architecture", "components", "packages", "mirror"}));
  MmdebstrapRecipe recipe;
  recipe.loc = node.loc();
  EF_ASSIGN(auto suite, node.require("suite"));
  EF_ASSIGN(recipe.suite, parse_argument(suite));
  EF_TRY(read_optional(node, "variant", recipe.variant, parse_argument));
  EF_TRY(read_optional(node, "architecture", recipe.architecture, parse_argument));
  EF_TRY(read_optional(node, "components", recipe.components, parse_arguments));
  EF_TRY(read_optional(node, "packages", recipe.packages, parse_arguments));
  EF_TRY(read_optional(node, "mirror", recipe.mirror, parse_argument));
  return recipe;
}

Result<uint32_t> parse_id(const SchemaNode& node) {
  // 2^32-1 is (uid_t)-1, "no change" to chown; it is never a real owner.
  EF_ASSIGN(auto id, node.as_int(0, 4294967294));
  return static_cast<uint32_t>(id);
}

Result<uint32_t> parse_mode_node(const SchemaNode& node) {
  std::optional<uint32_t> mode;
  if (node.yaml().IsScalar()) mode = parse_mode(node.yaml().Scalar());
  if (!mode)
    return node.error("expected an octal mode like \"0644\" (at most 07777), got " +
                      node.describe());
  return *mode;
}

Result<FileEntry> parse_file_entry(const SchemaNode& node, const fs::path& dir) {
  EF_TRY(node.expect_map({"path", "content", "source", "mode", "uid", "gid"}));
  FileEntry entry;
  entry.loc = node.loc();
  EF_ASSIGN(auto path_node, node.require("path"));
  EF_ASSIGN(auto path, path_node.as_string());
  if (auto why = check_image_path(path, entry.path); !why.empty()) return path_node.error(why);
  EF_ASSIGN(auto kind, node.one_of({"content", "source"}));
  if (kind == "content") {
    EF_ASSIGN(entry.content, node.get("content")->as_string());
  } else {
    EF_ASSIGN(entry.source, local_path(*node.get("source"), dir, Expect::file));
  }
  EF_TRY(read_optional(node, "mode", entry.mode, parse_mode_node));
  EF_TRY(read_optional(node, "uid", entry.uid, parse_id));
  EF_TRY(read_optional(node, "gid", entry.gid, parse_id));
  return entry;
}

Result<void> parse_directory(const SchemaNode& node, const fs::path& dir, Layer& layer) {
  EF_TRY(node.expect_map({"path", "uid", "gid"}));
  EF_ASSIGN(auto path, node.require("path"));
  EF_ASSIGN(layer.directory, local_path(path, dir, Expect::directory));
  EF_TRY(read_optional(node, "uid", layer.uid, parse_id));
  EF_TRY(read_optional(node, "gid", layer.gid, parse_id));
  return Ok{};
}

}  // namespace

fs::path resolve_path(const fs::path& dir, const std::string& text) {
  fs::path path = (dir / text).lexically_normal();
  // "image-oci/" names the same thing as "image-oci"; keep one spelling.
  if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) {
    path = path.parent_path();
  }
  return path;
}

Result<Base> parse_base(const SchemaNode& node, const fs::path& dir) {
  EF_TRY(node.expect_map({"tarball", "oci", "mmdebstrap"}));
  EF_ASSIGN(auto kind, node.one_of({"tarball", "oci", "mmdebstrap"}));
  Base base;
  base.loc = node.loc();
  auto value = *node.get(kind);
  if (kind == "tarball") {
    base.kind = Base::Kind::tarball;
    EF_ASSIGN(base.tarball, parse_artifact(value, dir, Expect::file, nullptr));
  } else if (kind == "oci") {
    base.kind = Base::Kind::oci;
    EF_ASSIGN(base.oci, parse_oci(value, dir));
  } else {
    base.kind = Base::Kind::mmdebstrap;
    EF_ASSIGN(base.mmdebstrap, parse_mmdebstrap(value));
  }
  return base;
}

Result<Layer> parse_layer(const SchemaNode& node, const fs::path& dir) {
  EF_TRY(node.expect_map({"tarball", "directory", "oci", "files"}));
  EF_ASSIGN(auto kind, node.one_of({"tarball", "directory", "oci", "files"}));
  Layer layer;
  layer.loc = node.loc();
  auto value = *node.get(kind);
  if (kind == "tarball") {
    layer.kind = Layer::Kind::tarball;
    EF_ASSIGN(layer.tarball, parse_artifact(value, dir, Expect::file, nullptr));
  } else if (kind == "directory") {
    layer.kind = Layer::Kind::directory;
    EF_TRY(parse_directory(value, dir, layer));
  } else if (kind == "oci") {
    layer.kind = Layer::Kind::oci;
    EF_ASSIGN(layer.oci, parse_oci(value, dir));
  } else {
    layer.kind = Layer::Kind::files;
    EF_ASSIGN(auto entries, value.items());
    for (const auto& entry : entries) {
      EF_ASSIGN(auto file, parse_file_entry(entry, dir));
      layer.files.push_back(std::move(file));
    }
  }
  return layer;
}

}  // namespace ef::profile::detail
