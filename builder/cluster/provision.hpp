// `edgeforge provision-script`: a profile's node layer (Kubernetes layer,
// packs, site) as an idempotent script for an existing Ubuntu host.
#pragma once

#include <filesystem>
#include <string>

#include "builder/fetch/cache.hpp"
#include "builder/node/provision_script.hpp"
#include "util/error.hpp"

namespace ef::cluster {

/// Loads `profile_file`, builds its node layer (artifacts through `cache`,
/// `mirror` overriding spec.artifactMirror) and writes provision.sh plus
/// files/<sha256> into `out_dir`. The profile's base and layers are not
/// used: the host is the base.
Result<node::ProvisionBundle> write_provision_script(const std::filesystem::path& profile_file,
                                                     fetch::Cache& cache, const std::string& mirror,
                                                     const std::filesystem::path& out_dir);

}  // namespace ef::cluster
