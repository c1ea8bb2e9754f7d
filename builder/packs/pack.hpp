// Packs: versioned bundles of node content (pack.yaml, files/, manifests/,
// charts/, images/). docs/packs.md is the user-facing description.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/fetch/cache.hpp"
#include "builder/kubernetes/distribution.hpp"
#include "builder/node/content.hpp"
#include "builder/packs/image_archive.hpp"
#include "builder/packs/version_range.hpp"
#include "builder/profile/profile.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"

namespace ef::packs {

/// A depends/conflicts entry: another pack's name and a version range.
struct PackConstraint {
  std::string name;
  VersionRange range;  // "*" when pack.yaml gives none
};

struct Pack {
  std::string name;
  std::string version;
  SemVer semver;
  std::string layer;  // os, k8s, cni, csi, addon, system
  std::vector<PackConstraint> depends, conflicts;
  std::vector<std::string> distributions;              // empty: any
  nlohmann::json defaults = nlohmann::json::object();  // pack.yaml values
  nlohmann::json values = nlohmann::json::object();    // defaults + profile values
  std::filesystem::path dir;     // the pack directory (extracted, for archives)
  std::filesystem::path source;  // what the profile named
  profile::SourceLoc loc;        // the spec.packs entry
  /// "calico 3.27.0" for messages.
  std::string id() const { return name + " " + version; }
};

/// Loads the pack at `ref.path` (a directory, or a .tar.gz extracted once
/// into <cache>/packs/<sha256>/) and merges the profile's values over the
/// pack's defaults.
Result<Pack> load_pack(const profile::PackRef& ref, const fetch::Cache& cache);

/// Checks every pack's depends, conflicts and distributions against the
/// whole list; the error names both packs and their versions.
/// `distribution` is empty when the profile has no spec.kubernetes.
Result<void> check_constraints(const std::vector<Pack>& packs, const std::string& distribution);

/// A container image archive a pack preloads, as it lands in the image.
struct PackImage {
  std::string path;    // absolute path of the archive in the image
  std::string sha256;  // of the archive file
  std::vector<ArchivedImage> images;
};

/// Renders a pack's content for `delivery` (empty when the image has no
/// Kubernetes layer: then only files/ is allowed). `images`, when given,
/// receives the image archives it preloads (for the SBOM).
Result<node::Content> pack_content(const Pack& pack,
                                   const std::optional<kubernetes::Delivery>& delivery,
                                   std::vector<PackImage>* images = nullptr);

}  // namespace ef::packs
