// `edgeforge provision-script`: the same node content as one idempotent
// POSIX shell script for an existing (mutable) Ubuntu host, plus every file
// it installs stored by sha256 next to it and verified before use.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "builder/node/content.hpp"
#include "util/error.hpp"

namespace ef::node {

/// A package the host must have, and the path that shows it is there.
struct HostPackage {
  std::string path;     // e.g. /usr/bin/containerd
  std::string package;  // Debian/Ubuntu package providing it
};

/// What provision.sh needs beyond the node content to configure a live host
/// (docs/provision.md).
struct HostNetwork {
  /// The site's interfaces as netplan YAML, installed as
  /// /etc/netplan/90-edgeforge-site.yaml instead of the systemd-networkd
  /// files when the host uses netplan; empty: none.
  std::string netplan;
};

struct ProvisionBundle {
  std::filesystem::path script;     // <dir>/provision.sh
  std::filesystem::path files_dir;  // <dir>/files/<sha256>
  size_t files = 0;
};

/// Renders the script text. `title` goes into its header comment.
std::string render_provision_script(const Content& content,
                                    const std::vector<HostPackage>& packages,
                                    const std::string& title, const HostNetwork& network = {});

/// Writes provision.sh and files/<sha256> into `dir` (created; mode 0700
/// because files may carry site credentials). Existing files are replaced
/// atomically.
Result<ProvisionBundle> write_provision_bundle(const Content& content,
                                               const std::vector<HostPackage>& packages,
                                               const std::string& title,
                                               const std::filesystem::path& dir,
                                               const HostNetwork& network = {});

}  // namespace ef::node
