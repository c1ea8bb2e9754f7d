// The node layer of a profile: spec.kubernetes, spec.packs and spec.site
// turned into one node::Content, in that order (later wins on a path).
// Pack constraints are checked before anything is downloaded or built.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/fetch/cache.hpp"
#include "builder/node/content.hpp"
#include "builder/node/provision_script.hpp"
#include "builder/profile/profile.hpp"
#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::cluster {

struct NodeLayer {
  node::Content content;
  std::vector<node::HostPackage> host_packages;  // paths the base must provide
  nlohmann::json record;                         // for the build manifest (no secrets)
  std::vector<std::string> enabled_units;        // the Kubernetes layer's, in order
  bool empty() const { return content.entries().empty(); }
};

/// Loads packs and checks their constraints, then brings every Kubernetes
/// artifact into `cache` (fetch_artifacts: all that cannot be had are named
/// in one error) and builds the Kubernetes layer, pack content and site
/// files. `mirror` (from --artifact-mirror) overrides spec.artifactMirror.
Result<NodeLayer> make_node_layer(const profile::Profile& profile, fetch::Cache& cache,
                                  const std::string& mirror);

/// Checks the node layer without downloading: packs' constraints, their
/// rendered manifests and image archives, the Kubernetes definition and its
/// artifact pins (missing_artifacts lists what the cache lacks). What
/// `edgeforge validate` runs.
Result<void> check_packs(const profile::Profile& profile, const fetch::Cache& cache);

/// Lists the Kubernetes artifacts of `profile` that `cache` lacks, one line
/// each ("file:line:col: kubernetes artifact k3s (url, sha256 ...)"),
/// without touching the network. `mirror` (from --artifact-mirror)
/// overrides spec.artifactMirror. A missing pin is an error.
Result<std::vector<std::string>> missing_artifacts(const profile::Profile& profile,
                                                   const fetch::Cache& cache,
                                                   const std::string& mirror);

/// Brings every Kubernetes artifact `cache` lacks into it before anything
/// else is done; when some cannot be had (offline, no network, a wrong
/// pin) one error lists all of them with their profile locations.
Result<void> fetch_artifacts(const profile::Profile& profile, fetch::Cache& cache,
                             const std::string& mirror);

/// Checks the base provides what the distribution needs, then merges the
/// node layer into `tree` as one layer after the profile's layers.
Result<void> apply_node_layer(tree::Tree& tree, const NodeLayer& layer, int64_t mtime);

}  // namespace ef::cluster
