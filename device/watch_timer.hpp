// edgeforge-watch.timer, which runs `edgeforge-agent watch`: its unit as the
// builder puts it into every image (interval and jitter from the profile's
// spec.agent.updates) and the drop-in a site file's `updates.interval` and
// `updates.jitter` render over it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ef::device {

/// When neither the profile nor the site file says.
inline constexpr std::chrono::seconds kDefaultUpdateInterval{4 * 3600};
inline constexpr std::chrono::seconds kDefaultUpdateJitter{30 * 60};

inline constexpr const char* kWatchService = "edgeforge-watch.service";
inline constexpr const char* kWatchTimer = "edgeforge-watch.timer";
/// Where the site's drop-in goes.
inline constexpr const char* kWatchTimerDropIn =
    "/etc/systemd/system/edgeforge-watch.timer.d/50-edgeforge-site.conf";

/// The oneshot service the timer starts.
std::string watch_service_unit();

/// The timer: first 5 minutes after boot, then `interval` after each run,
/// each delayed by a random time up to `jitter`.
std::string watch_timer_unit(std::chrono::seconds interval, std::chrono::seconds jitter);

/// The drop-in that replaces what is set; "" when neither is.
std::string watch_timer_drop_in(std::optional<std::chrono::seconds> interval,
                                std::optional<std::chrono::seconds> jitter);

}  // namespace ef::device
