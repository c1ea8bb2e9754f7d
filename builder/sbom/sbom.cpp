#include "builder/sbom/sbom.hpp"

#include <cctype>
#include <set>

#include "util/sha256.hpp"
#include "util/utc_time.hpp"

namespace ef::sbom {
namespace {

using nlohmann::json;

constexpr const char* kNoAssertion = "NOASSERTION";

// purl's percent-encoding: everything but unreserved characters (and, in
// qualifier values, '/').
std::string pct(std::string_view s, bool keep_slash = false) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Qualifiers sorted by key, as purl's canonical form wants.
std::string qualifiers(const std::map<std::string, std::string>& q) {
  std::string out;
  for (const auto& [k, v] : q) {
    if (v.empty()) continue;
    out += (out.empty() ? "?" : "&") + k + "=" + pct(v, true);
  }
  return out;
}

// SPDX identifiers allow letters, digits, '.' and '-'.
class SpdxIds {
 public:
  std::string make(const std::string& prefix, std::string_view name) {
    std::string id = "SPDXRef-" + prefix + "-";
    for (char c : name) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')
        id += c;
      else if (c == '+')
        id += "plus";
      else
        id += '-';
    }
    std::string unique = id;
    for (int n = 2; !used_.insert(unique).second; ++n) unique = id + "-" + std::to_string(n);
    return unique;
  }

 private:
  std::set<std::string> used_;
};

// "Name <email>" as SPDX's "Organization: Name (email)".
std::string spdx_supplier(const std::string& maintainer) {
  if (maintainer.empty()) return kNoAssertion;
  auto lt = maintainer.find('<'), gt = maintainer.find('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt)
    return "Organization: " + maintainer;
  std::string name = maintainer.substr(0, lt);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return "Organization: " + name + " (" + maintainer.substr(lt + 1, gt - lt - 1) + ")";
}

std::string digest_hex(const std::string& digest) {
  return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : "";
}

// A UUID made from a digest (RFC 4122 layout, version 5 bits), so the
// serial number is the same for the same image.
std::string uuid_from(const std::string& seed) {
  std::string h = sha256_hex(seed).substr(0, 32);
  h[12] = '5';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string generic_purl(const Artifact& a) {
  return "pkg:generic/" + pct(a.name) + (a.version.empty() ? "" : "@" + pct(a.version)) +
         qualifiers({{"checksum", "sha256:" + a.sha256}, {"download_url", a.url}});
}

}  // namespace

OsRelease parse_os_release(std::string_view text) {
  OsRelease os;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    if (key == "ID") os.id = value;
    if (key == "VERSION_ID") os.version_id = value;
  }
  return os;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "spdx") return Format::spdx;
  if (name == "cyclonedx") return Format::cyclonedx;
  return std::nullopt;
}

std::string file_suffix(Format f) {
  return f == Format::spdx ? ".spdx.json" : ".cdx.json";
}

std::string media_type(Format f) {
  return f == Format::spdx ? "application/spdx+json" : "application/vnd.cyclonedx+json";
}

std::string deb_purl(const OsRelease& os, const DebPackage& p) {
  std::string ns = os.id.empty() ? "debian" : os.id;
  std::map<std::string, std::string> q = {{"arch", p.architecture}};
  if (!os.id.empty() && !os.version_id.empty()) q["distro"] = os.id + "-" + os.version_id;
  if (p.source != p.name) q["upstream"] = p.source;
  return "pkg:deb/" + pct(ns) + "/" + pct(p.name) + "@" + pct(p.version) + qualifiers(q);
}

std::string oci_purl(const ContainerImage& image) {
  // "registry/path/name:tag" -> name, repository_url registry/path/name, tag.
  std::string ref = image.name, tag;
  auto slash = ref.find_last_of('/');
  auto colon = ref.find_last_of(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    tag = ref.substr(colon + 1);
    ref.resize(colon);
  }
  std::string name =
      ref.substr(ref.find_last_of('/') == std::string::npos ? 0 : ref.find_last_of('/') + 1);
  if (name.empty()) name = image.pack.empty() ? "image" : image.pack;
  std::map<std::string, std::string> q = {{"tag", tag}};
  if (ref.find('/') != std::string::npos) q["repository_url"] = ref;
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "pkg:oci/" + pct(lower) + "@" + pct(image.digest) + qualifiers(q);
}

json spdx_document(const SbomFacts& f) {
  SpdxIds ids;
  const std::string image_id = "SPDXRef-Image";
  json packages = json::array(), files = json::array(), relationships = json::array();
  std::map<std::string, std::string> refs;
  auto contains = [&](const std::string& from, const std::string& to) {
    relationships.push_back(
        {{"spdxElementId", from}, {"relationshipType", "CONTAINS"}, {"relatedSpdxElement", to}});
  };
  relationships.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"},
                           {"relationshipType", "DESCRIBES"},
                           {"relatedSpdxElement", image_id}});
  packages.push_back(
      {{"SPDXID", image_id},
       {"name", f.product},
       {"versionInfo", f.version},
       {"packageFileName", f.image_file},
       {"downloadLocation", kNoAssertion},
       {"filesAnalyzed", false},
       {"primaryPackagePurpose", "OPERATING-SYSTEM"},
       {"checksums", {{{"algorithm", "SHA256"}, {"checksumValue", f.image_sha256}}}},
       {"licenseConcluded", kNoAssertion},
       {"licenseDeclared", kNoAssertion},
       {"copyrightText", kNoAssertion},
       {"comment", "The OS image edgeforge built from profile digest sha256:" + f.profile_digest}});
  for (const auto& p : f.packages) {
    const DebPackage& d = p.deb;
    std::string id = ids.make("deb", d.name + "-" + d.architecture);
    if (p.license)
      for (const auto& r : p.license->refs) refs.insert(r);
    packages.push_back({{"SPDXID", id},
                        {"name", d.name},
                        {"versionInfo", d.version},
                        {"supplier", spdx_supplier(d.maintainer)},
                        {"downloadLocation", kNoAssertion},
                        {"filesAnalyzed", false},
                        {"sourceInfo", "built package from: " + d.source + " " + d.source_version},
                        {"licenseConcluded", kNoAssertion},
                        {"licenseDeclared", p.license ? p.license->expression : kNoAssertion},
                        {"copyrightText", kNoAssertion},
                        {"externalRefs",
                         {{{"referenceCategory", "PACKAGE-MANAGER"},
                           {"referenceType", "purl"},
                           {"referenceLocator", deb_purl(f.os, d)}}}}});
    contains(image_id, id);
  }
  for (const auto& a : f.artifacts) {
    std::string id = ids.make("artifact", a.name);
    packages.push_back({{"SPDXID", id},
                        {"name", a.name},
                        {"versionInfo", a.version},
                        {"downloadLocation", a.url},
                        {"filesAnalyzed", false},
                        {"primaryPackagePurpose", "APPLICATION"},
                        {"checksums", {{{"algorithm", "SHA256"}, {"checksumValue", a.sha256}}}},
                        {"licenseConcluded", kNoAssertion},
                        {"licenseDeclared", kNoAssertion},
                        {"copyrightText", kNoAssertion},
                        {"comment", "Kubernetes artifact installed as " + a.path},
                        {"externalRefs",
                         {{{"referenceCategory", "PACKAGE-MANAGER"},
                           {"referenceType", "purl"},
                           {"referenceLocator", generic_purl(a)}}}}});
    contains(image_id, id);
  }
  std::map<std::string, std::string> pack_ids;
  for (const auto& p : f.packs) {
    std::string id = ids.make("pack", p.name);
    pack_ids[p.name] = id;
    packages.push_back({{"SPDXID", id},
                        {"name", p.name},
                        {"versionInfo", p.version},
                        {"downloadLocation", kNoAssertion},
                        {"filesAnalyzed", false},
                        {"licenseConcluded", kNoAssertion},
                        {"licenseDeclared", kNoAssertion},
                        {"copyrightText", kNoAssertion},
                        {"comment", "edgeforge pack from " + p.source}});
    contains(image_id, id);
  }
  for (const auto& i : f.images) {
    std::string id = ids.make("oci", i.name.empty() ? i.pack : i.name);
    json pkg = {{"SPDXID", id},
                {"name", i.name.empty() ? i.pack : i.name},
                {"versionInfo", i.digest},
                {"downloadLocation", kNoAssertion},
                {"filesAnalyzed", false},
                {"primaryPackagePurpose", "CONTAINER"},
                {"licenseConcluded", kNoAssertion},
                {"licenseDeclared", kNoAssertion},
                {"copyrightText", kNoAssertion},
                {"comment", "container image preloaded from " + i.archive_path + " (sha256 " +
                                i.archive_sha256 + ")"},
                {"externalRefs",
                 {{{"referenceCategory", "PACKAGE-MANAGER"},
                   {"referenceType", "purl"},
                   {"referenceLocator", oci_purl(i)}}}}};
    if (auto hex = digest_hex(i.digest); !hex.empty())
      pkg["checksums"] = {{{"algorithm", "SHA256"}, {"checksumValue", hex}}};
    packages.push_back(std::move(pkg));
    auto owner = pack_ids.find(i.pack);
    contains(owner == pack_ids.end() ? image_id : owner->second, id);
  }
  for (size_t n = 0; n < f.files.size(); ++n) {
    const File& file = f.files[n];
    std::string id = "SPDXRef-File-" + std::to_string(n + 1);
    files.push_back({{"SPDXID", id},
                     {"fileName", "." + file.path},
                     {"checksums",
                      {{{"algorithm", "SHA1"}, {"checksumValue", file.sha1}},
                       {{"algorithm", "SHA256"}, {"checksumValue", file.sha256}}}},
                     {"licenseConcluded", kNoAssertion},
                     {"copyrightText", kNoAssertion}});
    contains(image_id, id);
  }
  json extracted = json::array();
  for (const auto& [id, name] : refs)
    extracted.push_back(
        {{"licenseId", id},
         {"name", name},
         {"extractedText", "The licence Debian copyright files call \"" + name +
                               "\"; its text is in /usr/share/doc/PACKAGE/copyright of each "
                               "package that names it."}});
  std::string name = f.product + "-" + f.version;
  json doc = {
      {"spdxVersion", "SPDX-2.3"},
      {"dataLicense", "CC0-1.0"},
      {"SPDXID", "SPDXRef-DOCUMENT"},
      {"name", name},
      {"documentNamespace", "https://edgeforge.dev/spdx/" + pct(f.product) + "/" + pct(f.version) +
                                "/" + f.image_sha256},
      {"creationInfo",
       {{"created", format_utc(f.epoch)}, {"creators", {"Tool: edgeforge-" + f.tool_version}}}},
      {"packages", packages},
      {"relationships", relationships}};
  if (!files.empty()) doc["files"] = files;
  if (!extracted.empty()) doc["hasExtractedLicensingInfos"] = extracted;
  return doc;
}

json cyclonedx_document(const SbomFacts& f) {
  json components = json::array(), depends = json::array();
  auto add = [&](json c) {
    depends.push_back(c["bom-ref"]);
    components.push_back(std::move(c));
  };
  for (const auto& p : f.packages) {
    const DebPackage& d = p.deb;
    std::string purl = deb_purl(f.os, d);
    json c = {{"type", "library"},
              {"bom-ref", purl},
              {"name", d.name},
              {"version", d.version},
              {"purl", purl},
              {"properties",
               {{{"name", "edgeforge:deb:architecture"}, {"value", d.architecture}},
                {{"name", "edgeforge:deb:source"}, {"value", d.source + " " + d.source_version}}}}};
    if (!d.maintainer.empty()) c["supplier"] = {{"name", d.maintainer}};
    if (p.license) c["licenses"] = {{{"expression", p.license->expression}}};
    add(std::move(c));
  }
  for (const auto& a : f.artifacts)
    add({{"type", "application"},
         {"bom-ref", "artifact:" + a.name},
         {"name", a.name},
         {"version", a.version},
         {"purl", generic_purl(a)},
         {"hashes", {{{"alg", "SHA-256"}, {"content", a.sha256}}}},
         {"externalReferences", {{{"type", "distribution"}, {"url", a.url}}}},
         {"properties", {{{"name", "edgeforge:artifact:path"}, {"value", a.path}}}}});
  for (const auto& p : f.packs)
    add({{"type", "application"},
         {"bom-ref", "pack:" + p.name},
         {"name", p.name},
         {"version", p.version},
         {"properties", {{{"name", "edgeforge:pack:source"}, {"value", p.source}}}}});
  for (size_t n = 0; n < f.images.size(); ++n) {
    const ContainerImage& i = f.images[n];
    json c = {{"type", "container"},
              {"bom-ref", "oci:" + std::to_string(n + 1) + ":" + i.digest},
              {"name", i.name.empty() ? i.pack : i.name},
              {"version", i.digest},
              {"purl", oci_purl(i)},
              {"properties",
               {{{"name", "edgeforge:pack"}, {"value", i.pack}},
                {{"name", "edgeforge:image:archive"}, {"value", i.archive_path}}}}};
    if (auto hex = digest_hex(i.digest); !hex.empty())
      c["hashes"] = {{{"alg", "SHA-256"}, {"content", hex}}};
    add(std::move(c));
  }
  for (const auto& file : f.files)
    add({{"type", "file"},
         {"bom-ref", "file:" + file.path},
         {"name", file.path},
         {"hashes",
          {{{"alg", "SHA-1"}, {"content", file.sha1}},
           {{"alg", "SHA-256"}, {"content", file.sha256}}}}});
  json image = {{"type", "operating-system"},
                {"bom-ref", "image"},
                {"name", f.product},
                {"version", f.version},
                {"hashes", {{{"alg", "SHA-256"}, {"content", f.image_sha256}}}},
                {"properties",
                 {{{"name", "edgeforge:image:file"}, {"value", f.image_file}},
                  {{"name", "edgeforge:profile:digest"}, {"value", f.profile_digest}}}}};
  return {{"bomFormat", "CycloneDX"},
          {"specVersion", "1.5"},
          {"serialNumber",
           "urn:uuid:" + uuid_from(f.product + "\n" + f.version + "\n" + f.image_sha256)},
          {"version", 1},
          {"metadata",
           {{"timestamp", format_utc(f.epoch)},
            {"tools",
             {{"components",
               {{{"type", "application"}, {"name", "edgeforge"}, {"version", f.tool_version}}}}}},
            {"component", image}}},
          {"components", components},
          {"dependencies", {{{"ref", "image"}, {"dependsOn", depends}}}}};
}

json document(const SbomFacts& facts, Format format) {
  return format == Format::spdx ? spdx_document(facts) : cyclonedx_document(facts);
}

json provenance_statement(const ProvenanceFacts& f) {
  auto descriptor = [](const Digested& d) {
    json j = {{"name", d.name}};
    if (!d.uri.empty()) j["uri"] = d.uri;
    if (!d.sha256.empty()) j["digest"] = {{"sha256", d.sha256}};
    return j;
  };
  json subjects = json::array(), deps = json::array();
  for (const auto& s : f.subjects) subjects.push_back(descriptor(s));
  for (const auto& d : f.dependencies) deps.push_back(descriptor(d));
  return {{"_type", "https://in-toto.io/Statement/v1"},
          {"subject", subjects},
          {"predicateType", "https://slsa.dev/provenance/v1"},
          {"predicate",
           {{"buildDefinition",
             {{"buildType", "https://edgeforge.dev/build/v1"},
              {"externalParameters", f.external_parameters},
              {"internalParameters", f.internal_parameters},
              {"resolvedDependencies", deps}}},
            {"runDetails",
             {{"builder",
               {{"id", "https://edgeforge.dev/builder/edgeforge"},
                {"version", {{"edgeforge", f.tool_version}}}}}}}}}};
}

}  // namespace ef::sbom
