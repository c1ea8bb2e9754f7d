#include "builder/profile/profile_parser.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <climits>
#include <sstream>

#include "builder/profile/input_parser.hpp"
#include "builder/profile/output_format.hpp"
#include "builder/profile/schema_node.hpp"
#include "builder/profile/values.hpp"
#include "util/utf8.hpp"

namespace fs = std::filesystem;

namespace ef::profile::detail {
namespace {

constexpr const char* kApiVersion = "edgeforge.dev/v1alpha1";

Result<void> expect_value(const SchemaNode& root, const char* key, const std::string& want) {
  EF_ASSIGN(auto node, root.require(key));
  EF_ASSIGN(auto value, node.as_string());
  if (value != want) return node.error("expected " + want + ", got \"" + value + "\"");
  return Ok{};
}

Result<std::string> parse_checked(const SchemaNode& node, std::string (*check)(std::string_view)) {
  EF_ASSIGN(auto value, node.as_string());
  if (auto why = check(value); !why.empty()) return node.error("\"" + value + "\" " + why);
  return value;
}

Result<void> parse_metadata(const SchemaNode& node, PartialProfile& out) {
  EF_TRY(node.expect_map({"name", "version", "epoch"}));
  out.metadata_loc = node.loc();
  if (auto n = node.get("name")) {
    EF_ASSIGN(out.name, parse_checked(*n, check_name));
  }
  if (auto n = node.get("version")) {
    EF_ASSIGN(out.version, parse_checked(*n, check_semver));
  }
  if (auto n = node.get("epoch")) {
    // squashfs stores 32-bit unsigned timestamps.
    EF_ASSIGN(out.epoch, n->as_int(0, UINT32_MAX));
  }
  return Ok{};
}

Result<void> parse_output(const SchemaNode& node, const fs::path& dir, PartialProfile& out) {
  EF_TRY(node.expect_map({"compression", "level", "blockSize", "formats", "disk", "persistentPaths",
                          "installerSite"}));
  if (auto n = node.get("installerSite")) {
    EF_ASSIGN(auto text, n->as_string());
    fs::path site = resolve_path(dir, text);
    std::error_code ec;
    if (!fs::is_regular_file(site, ec))
      return n->error("site file not found: " + site.string(), Errc::not_found);
    out.installer_site = site;
  }
  if (auto n = node.get("formats")) {
    EF_ASSIGN(auto formats, n->as_strings());
    for (const auto& f : formats)
      if (!parse_output_format(f))
        return n->error("expected formats from " + output_format_list() + ", got \"" + f + "\"");
    out.formats = Located<std::vector<std::string>>{formats, n->loc()};
  }
  if (auto n = node.get("disk")) {
    EF_TRY(n->expect_map({"espSize", "slotSize", "persistentSize"}));
    // Sizes in MiB; the ESP holds two kernels and initrds (~50 MiB each on Debian).
    if (auto s = n->get("espSize")) {
      EF_ASSIGN(out.esp_mib, s->as_int(32, 65536));
    }
    if (auto s = n->get("slotSize")) {
      EF_ASSIGN(out.slot_mib, s->as_int(16, 1 << 22));
    }
    if (auto s = n->get("persistentSize")) {
      EF_ASSIGN(out.persistent_mib, s->as_int(16, 1 << 24));
    }
  }
  if (auto n = node.get("persistentPaths")) {
    EF_ASSIGN(auto paths, n->as_strings());
    for (const auto& p : paths)
      if (!p.starts_with("/") || p == "/" || p.find('\n') != std::string::npos)
        return n->error("persistent paths must be absolute paths below /, got \"" + p + "\"");
    out.persistent_paths = paths;
  }
  if (auto n = node.get("compression")) {
    EF_ASSIGN(auto name, n->as_string());
    if (!is_known_compression(name)) {
      return n->error("expected one of zstd, xz, gzip, lz4, got \"" + name + "\"");
    }
    out.compression = Located<std::string>{name, n->loc()};
  }
  if (auto n = node.get("level")) {
    // The range depends on the compressor, which a child profile may change:
    // it is checked after merging.
    EF_ASSIGN(auto level, n->as_int(INT_MIN, INT_MAX));
    out.level = Located<int>{static_cast<int>(level), n->loc()};
  }
  if (auto n = node.get("blockSize")) {
    EF_ASSIGN(auto size, n->as_int(INT64_MIN, INT64_MAX));
    if (size < 4096 || size > 1048576 || (size & (size - 1)) != 0) {
      return n->error("expected a power of two from 4096 to 1048576, got " + std::to_string(size));
    }
    out.block_size = static_cast<uint32_t>(size);
  }
  return Ok{};
}

Result<void> parse_bundle(const SchemaNode& node, PartialProfile& out) {
  EF_TRY(node.expect_map({"compatible", "minVersion"}));
  if (auto n = node.get("compatible")) {
    EF_ASSIGN(out.bundle_compatible, parse_checked(*n, check_name));
  }
  if (auto n = node.get("minVersion")) {
    EF_ASSIGN(auto v, parse_checked(*n, check_semver));
    out.bundle_min_version = Located<std::string>{v, n->loc()};
  }
  return Ok{};
}

Result<void> parse_extends(const SchemaNode& node, const fs::path& dir, PartialProfile& out) {
  EF_ASSIGN(auto items, node.items());
  for (const auto& item : items) {
    EF_ASSIGN(auto text, item.as_string());
    if (text.empty()) return item.error("must not be empty");
    fs::path path = resolve_path(dir, text);
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found) {
      return item.error("file not found: " + path.string(), Errc::not_found);
    }
    if (!fs::is_regular_file(st)) return item.error("not a profile file: " + path.string());
    out.extends.push_back(ExtendsRef{path, item.loc()});
  }
  return Ok{};
}

// spec.secureBoot: {key: FILE|pkcs11:URI, certificate: FILE}, both required;
// withoutTpm: refuse|unencrypted.
Result<SecureBoot> parse_secure_boot(const SchemaNode& node, const fs::path& dir) {
  EF_TRY(node.expect_map({"key", "certificate", "withoutTpm"}));
  SecureBoot sb;
  sb.loc = node.loc();
  auto key = node.get("key");
  auto cert = node.get("certificate");
  if (!key || !cert)
    return node.error(
        "spec.secureBoot needs both key (the db signing key: a PEM file or a "
        "pkcs11: URI) and certificate (its X.509 certificate, PEM)");
  EF_ASSIGN(auto key_text, key->as_string());
  std::error_code ec;
  if (key_text.rfind("pkcs11:", 0) == 0) {
    sb.key = key_text;
  } else {
    fs::path p = resolve_path(dir, key_text);
    if (!fs::is_regular_file(p, ec))
      return key->error("Secure Boot key not found: " + p.string(), Errc::not_found);
    sb.key = p.string();
  }
  EF_ASSIGN(auto cert_text, cert->as_string());
  sb.certificate = resolve_path(dir, cert_text);
  if (!fs::is_regular_file(sb.certificate, ec))
    return cert->error("Secure Boot certificate not found: " + sb.certificate.string(),
                       Errc::not_found);
  if (auto n = node.get("withoutTpm")) {
    EF_ASSIGN(auto mode, n->as_string());
    if (mode == "unencrypted")
      sb.without_tpm = SecureBoot::WithoutTpm::unencrypted;
    else if (mode != "refuse")
      return n->error("spec.secureBoot.withoutTpm: expected refuse or unencrypted, got \"" + mode +
                      "\"");
  }
  return sb;
}

Result<void> parse_spec(const SchemaNode& node, const fs::path& dir, PartialProfile& out) {
  EF_TRY(node.expect_map({"extends", "base", "layers", "output", "bundle", "kubernetes", "packs",
                          "site", "artifactMirror", "agent", "secureBoot"}));
  out.spec_loc = node.loc();
  if (auto n = node.get("extends")) EF_TRY(parse_extends(*n, dir, out));
  if (auto n = node.get("base")) {
    EF_ASSIGN(out.base, parse_base(*n, dir));
  }
  if (auto n = node.get("layers")) {
    EF_ASSIGN(auto items, n->items());
    for (const auto& item : items) {
      EF_ASSIGN(auto layer, parse_layer(item, dir));
      out.layers.push_back(std::move(layer));
    }
  }
  if (auto n = node.get("output")) EF_TRY(parse_output(*n, dir, out));
  if (auto n = node.get("bundle")) EF_TRY(parse_bundle(*n, out));
  EF_TRY(parse_cluster_keys(node, dir, out));
  if (auto n = node.get("agent")) EF_TRY(parse_agent(*n, dir, out.agent));
  if (auto n = node.get("secureBoot")) {
    EF_ASSIGN(out.secure_boot, parse_secure_boot(*n, dir));
  }
  return Ok{};
}

Result<PartialProfile> parse_root(const SchemaNode& root, const fs::path& file) {
  PartialProfile out;
  out.file = file;
  out.root_loc = out.metadata_loc = out.spec_loc = root.loc();
  EF_TRY(root.expect_map({"apiVersion", "kind", "metadata", "spec"}));
  EF_TRY(expect_value(root, "apiVersion", kApiVersion));
  EF_TRY(expect_value(root, "kind", "Profile"));
  if (auto n = root.get("metadata")) EF_TRY(parse_metadata(*n, out));
  if (auto n = root.get("spec")) EF_TRY(parse_spec(*n, file.parent_path(), out));
  return out;
}

Error located(const fs::path& file, const YAML::Mark& mark, const std::string& message) {
  SourceLoc loc{file.string(), mark.is_null() ? 0 : mark.line + 1,
                mark.is_null() ? 0 : mark.column + 1};
  return Error(Errc::invalid_profile, loc.str() + ": " + message);
}

// Counts documents (and where the second starts); ignores their content.
struct DocumentCounter : YAML::EventHandler {
  int documents = 0;
  YAML::Mark second;
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

Result<PartialProfile> parse_profile(const fs::path& file, const std::string& text) {
  if (auto bad = not_utf8(text)) return Error(Errc::invalid_profile, file.string() + ":" + *bad);
  try {
    // Not YAML::LoadAll: yaml-cpp 0.7 loops for ever, allocating, on a
    // stream such as "," (jbeder/yaml-cpp#1040, fixed upstream in 0.8).
    // The documents are counted with a bounded loop, the first one loaded.
    DocumentCounter counter;
    std::istringstream in(text);
    YAML::Parser parser(in);
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    if (counter.documents == 0) {
      return Error(Errc::invalid_profile,
                   SourceLoc{file.string(), 1, 1}.str() + ": the profile is empty");
    }
    if (counter.documents > 1) {
      return located(file, counter.second,
                     "a profile is one YAML document, found a second one (remove the '---')");
    }
    return parse_root(SchemaNode(YAML::Load(text), file.string()), file);
  } catch (const YAML::Exception& e) {
    return located(file, e.mark, "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    return Error(Errc::internal, file.string() + ": reading YAML failed: " + e.what());
  }
}

}  // namespace ef::profile::detail
