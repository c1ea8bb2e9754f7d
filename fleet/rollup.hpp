// Where each device stands and the fleet at a glance: a device's last report
// (the agent's status document, agent/status_report.hpp) placed in one
// phase of its channel's release, and the counts by channel, release, wave,
// site tag and phase (and per wave by the version its devices run) that the
// dashboard, `edgeforge fleet status` and the rollout gates read.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleet/registry.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet {

struct RollupOptions {
  UnixSeconds now = 0;
  uint64_t silent_after_seconds = 24 * 3600;  // no report for this long: silent
  size_t list_limit = 50;                     // devices listed as failing / silent
};

/// The roll-up of `devices` (docs/fleet-api.md, GET /api/v1/status).
nlohmann::json rollup(const std::vector<Device>& devices, const RollupOptions& options);

}  // namespace ef::fleet
