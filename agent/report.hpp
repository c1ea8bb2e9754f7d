// Status reports to the fleet service: what `edgeforge-agent report` (the
// heartbeat timer) and every command that changes the device's state call.
// A device with no registration file reports nothing; a report that cannot
// be sent stays queued (agent/fleet_client.hpp) and never fails the command
// that made it.
#pragma once

#include <optional>
#include <string>

#include "agent/device.hpp"
#include "agent/fleet_client.hpp"

namespace ef::agent {

struct ReportOptions {
  std::string reason;     // boot, watch, upgrade, rollback, mark-good, heartbeat, ...
  std::string device_id;  // "": from the registration (machine-id or serial)
  /// The site file with the device's tags (site::kWatchSitePath).
  std::filesystem::path site = "/etc/edgeforge/site-updates.yaml";
  DeviceIdSources id_sources;
  HttpStreamOptions http;
  bool send = true;     // false: queue only
  UnixSeconds now = 0;  // 0: the clock
};

/// Queues the device's status (status_document) with `reason` and sends
/// the queue. nullopt when the device has no registration. Errors are for
/// the device's own files (a malformed registration, an unwritable queue).
Result<std::optional<FlushResult>> report_status(const DevicePaths& paths,
                                                 const ReportOptions& options);

/// report_status for a command that just changed the device: a short
/// network budget, and one log line whatever happens.
void report_change(const DevicePaths& paths, const std::string& reason, const Log& log);

}  // namespace ef::agent
