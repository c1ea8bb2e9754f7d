// The Kubernetes layer: a distribution definition plus spec.kubernetes turned
// into node content (binaries from pinned artifacts, links, units enabled as
// *.wants/ symlinks, sysctl and modules-load files, the native config).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/fetch/cache.hpp"
#include "builder/kubernetes/distribution.hpp"
#include "builder/node/content.hpp"
#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::kubernetes {

/// One artifact after URL templating, mirror rewriting and overrides.
struct Artifact {
  std::string name;
  std::string url;
  std::string sha256;
  std::string destination;  // absolute path in the image
  std::string extract;      // non-empty: the member of a tar archive to install
  uint32_t mode = 0755;
};

/// A path the base must provide, with what to do when it does not.
struct Requirement {
  std::string path;
  std::string package;  // the Debian/Ubuntu package that provides it
};

struct KubernetesLayer {
  Distribution distribution;
  std::vector<Artifact> artifacts;
  std::vector<Requirement> requires_paths;
  node::Content content;
  nlohmann::json record;                   // for the build manifest
  std::vector<std::string> enabled_units;  // in the order they are enabled
};

/// Resolves the artifacts of `k` (`mirror` rewrites upstream URLs; profile
/// overrides win) without downloading anything.
Result<std::vector<Artifact>> resolve_artifacts(const Distribution& d, const profile::Kubernetes& k,
                                                const std::string& mirror);

/// A distribution loaded and its artifacts resolved, nothing downloaded:
/// what `edgeforge validate` checks (a missing pin is an error here too).
struct KubernetesPlan {
  Distribution distribution;
  std::vector<Artifact> artifacts;
};
Result<KubernetesPlan> plan_kubernetes(const profile::Kubernetes& k, const std::string& mirror);

/// Builds the layer: downloads (or finds in the cache) every artifact,
/// verifying its sha256, and renders units, links and config.
Result<KubernetesLayer> make_kubernetes_layer(const profile::Kubernetes& k,
                                              const std::string& mirror, fetch::Cache& cache);

/// Renders the native config file content from the definition's `config`
/// section and the profile's config (exposed for tests).
Result<std::string> render_native_config(const Distribution& d, const nlohmann::json& config);

/// The path of the systemd `*.wants/` link that enables `unit`.
std::string wants_link(const std::string& wanted_by, const std::string& unit);

}  // namespace ef::kubernetes
