// The supply-chain documents of a build: what the image writer streams is
// watched once (dpkg status, os-release, copyright files, every file a
// layer added) and turned into the SBOM (SPDX or CycloneDX) and the SLSA
// provenance statement written beside the image and carried in the bundle.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/sbom/sbom.hpp"
#include "builder/tree/tree.hpp"

namespace ef::build {

/// Watches the image writer's data stream (squashfs::WriterOptions::
/// data_observer) for the files an SBOM needs, so no input is read twice.
class SbomCollector {
 public:
  /// `base_layers`: the tree's layer number after the base was applied;
  /// regular files set by later layers are hashed as "added".
  SbomCollector(const tree::Tree& tree, uint32_t base_layers);
  ~SbomCollector();
  SbomCollector(const SbomCollector&) = delete;
  SbomCollector& operator=(const SbomCollector&) = delete;

  void observe(const tree::Inode& inode, std::string_view data);
  /// After the image was written: parses the package list, finishes the
  /// added files' digests.
  void finish();

  /// The image's dpkg packages (sbom::parse_dpkg_status), or null when it
  /// has no (usable) status file. After finish().
  const std::vector<sbom::DebPackage>* packages() const;

  /// The packages (with licences), distribution and added files. After
  /// finish().
  void fill(sbom::SbomFacts& facts) const;

 private:
  struct Watched;
  std::map<const tree::Inode*, std::unique_ptr<Watched>> watched_;
  const tree::Inode* status_ = nullptr;
  const tree::Inode* os_release_ = nullptr;
  std::map<std::string, const tree::Inode*> copyright_;  // doc directory name -> file
  std::vector<std::pair<std::string, const tree::Inode*>> added_;
  std::optional<std::vector<sbom::DebPackage>> packages_;
};

/// The SBOM facts the build manifest holds (product, image, Kubernetes
/// artifacts, packs and their container images) plus the collector's.
sbom::SbomFacts sbom_facts(const nlohmann::json& build_manifest, const SbomCollector& collector);

/// The provenance statement for a build manifest whose outputs are
/// `subjects` (file name and sha256 each).
nlohmann::json provenance(const nlohmann::json& build_manifest,
                          const std::vector<sbom::Digested>& subjects);

}  // namespace ef::build
