// Rebooting a device into a staged slot: the pre-reboot hooks first (the
// Kubernetes layers ship one that drains the node and takes the cluster's
// reboot lease), then the reboot itself. A hook that fails postpones the
// reboot; the staged slot stays staged and the next `watch` tries again.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agent/device.hpp"
#include "util/error.hpp"

namespace ef::agent {

struct RebootOptions {
  /// Executables run in name order before the reboot; a missing directory
  /// has none.
  std::filesystem::path hooks = "/etc/edgeforge/pre-reboot.d";
  /// What reboots the device (systemd stops services and syncs file systems).
  std::vector<std::string> command = {"systemctl", "reboot"};
  std::string reason;  // EDGEFORGE_REBOOT_REASON for the hooks
};

/// Runs the hooks, then the reboot command. Errc::refused naming the hook
/// that failed (the reboot is postponed), Errc::subprocess when the reboot
/// command fails.
Result<void> reboot_device(const RebootOptions& options, const Log& log);

}  // namespace ef::agent
