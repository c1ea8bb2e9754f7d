// Where one device stands in its channel's rollout, read from its last
// report (the agent's status document, agent/status_report.hpp).
#pragma once

#include <map>
#include <string>

namespace ef::fleet {

/// A device's phase in its channel's current release:
///   updated        runs the release, healthy
///   updating       installing it, staged for its reboot, or on trial
///   pending        its turn has not come (wave, soak, cap, pause)
///   waiting-window its turn came; the maintenance window has not
///   failed         the install failed (the device keeps its slot)
///   rolled-back    it booted the release, which failed its health check
///   not-in-plan    no wave holds it; no-release: the channel names none;
///   no-channel     it follows no channel; unknown: no report yet
/// A device that started the release and stays `updating` past the
/// channel's deadline counts as failed in the gates (fleet/gates.hpp).
struct Placement {
  std::string channel, release, running, wave;
  std::string phase = "unknown";
  std::string error;  // the last error it reported, "" for none
  std::map<std::string, std::string> tags;
};

/// The placement a report gives; a malformed report is `unknown`.
Placement place_report(const std::string& report_json);

}  // namespace ef::fleet
