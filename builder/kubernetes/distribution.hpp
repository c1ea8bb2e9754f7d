// Kubernetes distributions as data: layers/kubernetes/<name>.yaml says which
// artifacts a distribution needs, where they go, its units, sysctls, modules
// and native config file. Adding a distribution is adding a file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::kubernetes {

/// Where a distribution picks up pack content.
struct Delivery {
  std::string images;      // preloaded image archives
  std::string manifests;   // manifests applied on first boot
  std::string charts;      // "helmchart" (k3s HelmChart objects), "helm-install" (first-boot
                           // unit running helm) or "unsupported"
  std::string charts_dir;  // where chart archives (and helm-install release files) go
  std::string registries;  // registries.yaml (k3s) or containerd certs.d directory
};

/// A distribution definition rendered for one version, arch and role.
struct Distribution {
  std::string name;
  std::string role;
  std::filesystem::path file;  // the definition file
  nlohmann::json definition;   // the rendered YAML as JSON
  Delivery delivery;
};

/// The folder holding layers/, overlays/ and profiles/: $EDGEFORGE_DATA_DIR,
/// else PREFIX/share/edgeforge of the installed program (PREFIX/bin/..),
/// else the source tree it was built from, else the configured install prefix's.
std::filesystem::path data_dir();

/// Loads layers/kubernetes/<k.distribution>.yaml and renders it for the
/// profile's version, arch and role (defaulting the role).
Result<Distribution> load_distribution(const profile::Kubernetes& k);

/// Rewrites an upstream URL onto a mirror: https://host/path becomes
/// <mirror>/host/path. An empty mirror returns `url` unchanged.
std::string mirror_url(const std::string& url, const std::string& mirror);

}  // namespace ef::kubernetes
