// What `edgeforge-agent watch` decides from a verified channel document and
// what the device knows about itself: nothing to do, wait (until when and
// why), or upgrade now (from which artifact). A pure function of its inputs,
// so the same facts at the same instant give the same answer on every poll,
// and a simulation of a fleet can run it directly (tests/agent/watch_test).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "channel/rollout.hpp"
#include "device/maintenance_window.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"
#include "util/utc_time.hpp"

namespace ef::agent {

/// What the device knows about itself when it polls.
struct WatchFacts {
  std::string product;     // the running image's (agent.json)
  std::string compatible;  // the running image's
  SemVer running;          // the booted slot's version
  channel::DeviceIdentity identity;
  std::optional<device::MaintenanceWindow> window;  // nullopt: any time
  /// Releases that failed on this device (their slot was marked bad): the
  /// device never installs one of them again.
  std::vector<SemVer> failed;
  /// The release installed in the other slot and waiting for its reboot.
  std::optional<SemVer> staged;
};

struct WatchDecision {
  enum class Action {
    nothing,  // up to date, not for this device, or not in the plan
    wait,     // its turn, the window or a resume will come
    upgrade,  // install `artifact` now
  };
  Action action = Action::nothing;
  /// Why, as a code the fleet service counts by: no-release, other-product,
  /// up-to-date, newer, failed-here, staged, not-in-plan, paused, wave (its
  /// wave, soak or hourly cap has not come), window, go.
  std::string reason;
  /// One line for the log and `status`: "waiting for wave \"5pct\" ...".
  std::string why;
  /// wait: when the decision can change by itself (a wave opens, the
  /// window opens); nullopt when only a new channel document can change it.
  std::optional<UnixSeconds> until;
  // upgrade:
  std::string url;  // the artifact resolved against the channel's URL
  channel::Artifact artifact;
  bool is_head = false;  // a bundle head (delta from the chunk store), else a full bundle
  SemVer version;
};

const char* watch_action_name(WatchDecision::Action action);

/// The decision, checked in this order: the channel names a release for
/// this product and compatible string; it is newer than the running one (a
/// channel never downgrades a device); it has not failed here; it is not
/// already staged; the device's turn in the rollout (channel/rollout.hpp:
/// wave, pause, soak, cap); the maintenance window. A release with a bundle
/// head is installed from it (delta), else from its full bundle.
/// Errc::bad_channel when the artifact URL does not resolve against
/// `channel_url`.
Result<WatchDecision> decide(const channel::ChannelDoc& doc, const std::string& channel_url,
                             const WatchFacts& facts, UnixSeconds now);

/// Whether the device may reboot into a staged slot at `now` under the site's
/// reboot policy ("immediate", "window", "manual") and window; `why` says
/// why not.
struct RebootVerdict {
  bool now = false;
  std::string why;
  std::optional<UnixSeconds> until;  // when it may (window policy)
};
RebootVerdict may_reboot(const std::string& policy,
                         const std::optional<device::MaintenanceWindow>& window, UnixSeconds now);

}  // namespace ef::agent
