// `edgeforge-agent install`: lays the device's disk out from the installer
// medium: GPT as in docs/disk-layout.md (sizes and GUIDs from the medium's
// /edgeforge/install.json), the ESP with GRUB, grub.cfg, grubenv and slot
// A's boot files, the OS image in slot A (read back and checked), the
// persistent partition with the agent's initial state and the site
// configuration. Each step prints one line.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "device/install_manifest.hpp"
#include "device/site.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// Where the live system's initramfs mounts the installer medium.
inline constexpr const char* kDefaultMedium = "/run/edgeforge/medium";

struct InstallOptions {
  std::filesystem::path target;                   // a whole disk, or a disk image file
  bool wipe = false;                              // erase a target that holds partitions or data
  std::filesystem::path source = kDefaultMedium;  // the medium's root
  std::filesystem::path site;  // empty: the medium's edgeforge/site/site.yaml, if any
  bool unattended = false;     // --auto: an existing edgeforge install is never replaced
  std::filesystem::path sys_root = "/sys";  // sysfs (tests)
  int lock_wait_seconds = 15;  // for another holder of the target's flock (udev, a partitioner)
  std::function<void(const std::string&)> log;  // one line per step
};

/// The medium's install.json. Errors name the file; a missing one means
/// `source` is not an edgeforge installer medium.
Result<device::InstallManifest> load_install_manifest(const std::filesystem::path& source);

/// The site file to install (`site`, else the medium's), parsed; nullopt
/// when there is none. Errors: the file's parse errors.
Result<std::optional<site::Site>> load_install_site(const std::filesystem::path& source,
                                                    const std::filesystem::path& site);

/// Missing tools the install runs, each with its Debian package
/// ("sfdisk (fdisk)"); empty when all are there. `file_target` adds losetup.
std::vector<std::string> missing_install_tools(bool file_target);

/// Runs the install. Nothing is written unless the target passes
/// check_target and its flock can be had (else Errc::refused); the lock is
/// held from the first write to the last. A failure after partitioning says
/// the disk is left unbootable and to run the install again.
Result<void> install(const InstallOptions& options);

/// The paths a rendered site file takes on the persistent partition: /etc/X
/// goes to overlay/etc/upper/X, /var/X to overlay/var/upper/X (the initramfs
/// mounts them as the upper layers); "" for paths outside /etc and /var,
/// which the read-only image cannot take at install time.
std::string persistent_path_for(const std::string& path);

}  // namespace ef::agent
