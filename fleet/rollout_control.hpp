// What the operator side of the service (API, dashboard, `edgeforge fleet`)
// may do to the channels the service watches: list them with their rollout
// state, pause and resume. The gate engine (fleet/gates.hpp) implements it;
// every change is a new rollout state signed with the service's rollout key
// and written to the channel's place (docs/fleet-api.md, "Rollout gates").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/error.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet {

class RolloutControl {
 public:
  virtual ~RolloutControl() = default;

  /// {"channels": [{"channel", "location", "release", "paused", "reason",
  ///   "stateVersion", "waves": [{"wave", "open", "opened"}], "gate": {...},
  ///   "error"}]}: every channel in the service's configuration as it now
  /// stands. A channel whose file cannot be read is listed with "error".
  virtual Result<nlohmann::json> channels(UnixSeconds now) = 0;

  /// Pauses channel `name` (Errc::not_found for a channel the service does
  /// not watch). `who` and `reason` are recorded in the signed state.
  virtual Result<void> pause(const std::string& name, const std::string& who,
                             const std::string& reason, UnixSeconds now) = 0;
  /// Resumes it: failures seen up to now no longer stop it.
  virtual Result<void> resume(const std::string& name, const std::string& who, UnixSeconds now) = 0;
};

}  // namespace ef::fleet
