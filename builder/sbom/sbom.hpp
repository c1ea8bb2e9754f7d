// Software bills of materials for an image — SPDX 2.3 JSON and CycloneDX
// 1.5 JSON — and the build's provenance statement (in-toto Statement v1
// with an SLSA provenance v1 predicate). Pure functions of the facts a
// build gathers, so the same inputs give the same bytes (docs/sbom.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/sbom/debian.hpp"

namespace ef::sbom {

/// The distribution the image's /usr/lib/os-release names.
struct OsRelease {
  std::string id;          // "debian", "ubuntu"; empty when the image has none
  std::string version_id;  // "12", "24.04"
};
OsRelease parse_os_release(std::string_view text);

struct Package {
  DebPackage deb;
  std::optional<DebLicense> license;  // from a machine-readable copyright file
};

/// A downloaded Kubernetes artifact (k3s binary, kubeadm, airgap images).
struct Artifact {
  std::string name, version, url, sha256, path;
};

/// A container image a pack preloads.
struct ContainerImage {
  std::string name;    // "docker.io/library/nginx:1.27"; empty when unnamed
  std::string digest;  // "sha256:…"
  std::string pack;    // the pack's name
  std::string archive_path, archive_sha256;
};

struct PackInfo {
  std::string name, version, source;
};

/// A regular file a layer (not the base) added or replaced.
struct File {
  std::string path;  // absolute, in the image
  std::string sha1, sha256;
};

struct SbomFacts {
  std::string product, version;  // metadata.name, metadata.version
  std::string tool_version;      // edgeforge's
  int64_t epoch = 0;             // the document's creation time
  std::string image_file, image_sha256;
  std::string profile_digest;
  OsRelease os;
  std::vector<Package> packages;
  std::vector<Artifact> artifacts;
  std::vector<PackInfo> packs;
  std::vector<ContainerImage> images;
  std::vector<File> files;
};

enum class Format { spdx, cyclonedx };
/// "spdx" or "cyclonedx".
std::optional<Format> parse_format(std::string_view name);
/// ".spdx.json" or ".cdx.json".
std::string file_suffix(Format f);
/// "application/spdx+json" or "application/vnd.cyclonedx+json".
std::string media_type(Format f);

/// pkg:deb/<os id>/<name>@<version>?arch=<arch>[&distro=<id>-<version_id>][&upstream=<source>]
std::string deb_purl(const OsRelease& os, const DebPackage& p);
/// pkg:oci/<last path element>@<digest>?repository_url=<registry/path>[&tag=<tag>]
std::string oci_purl(const ContainerImage& image);

nlohmann::json spdx_document(const SbomFacts& facts);
nlohmann::json cyclonedx_document(const SbomFacts& facts);
nlohmann::json document(const SbomFacts& facts, Format format);

/// A file the provenance names with its sha256 (subjects and inputs).
struct Digested {
  std::string name;
  std::string uri;  // may be empty
  std::string sha256;
};

struct ProvenanceFacts {
  std::string tool_version;
  nlohmann::json external_parameters;  // what the user chose: profile, formats
  nlohmann::json internal_parameters;  // what the build derived: epoch, compression
  std::vector<Digested> dependencies;  // every input (profile, base, layers, artifacts, packs)
  std::vector<Digested> subjects;      // the outputs
};

/// in-toto Statement v1, predicate https://slsa.dev/provenance/v1.
nlohmann::json provenance_statement(const ProvenanceFacts& facts);

}  // namespace ef::sbom
