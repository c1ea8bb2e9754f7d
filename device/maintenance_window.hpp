// A site's maintenance window (site.yaml `updates.window`): the local days
// and hours in which the device may install an update and reboot, and the
// arithmetic that turns them into UTC instants.
//
// Each listed day has one span, from `start` on that day's local clock to
// `end` (on the next day when end <= start: a window crossing midnight
// belongs to the day it starts). Both ends are converted with
// TimeZone::first_at_or_after, so across DST changes:
// - a start or end in a skipped hour moves to the moment the clocks jump
//   (a span lying wholly in the skipped hour does not happen that day);
// - a start or end in a repeated hour takes its first occurrence, and the
//   span never opens twice on one day.
// docs/site-config.md documents this for site authors.
#pragma once

#include <bitset>
#include <chrono>

#include "util/time_zone.hpp"

namespace ef::device {

struct MaintenanceWindow {
  /// Indexed by std::chrono::weekday::c_encoding(): 0 Sunday .. 6 Saturday.
  /// At least one day is set.
  std::bitset<7> days{0x7f};
  std::chrono::minutes start{0};  // local time of day, [0, 24h)
  std::chrono::minutes end{0};    // [0, 24h); end <= start: ends on the next day
  TimeZone zone = TimeZone::utc();
};

/// One opening of a window: [open, close).
struct WindowSpan {
  std::chrono::sys_seconds open;
  std::chrono::sys_seconds close;
};

/// The span of `window` that contains `now`, or else the next one to open.
/// Spans of consecutive days may touch (a 24-hour window): then `close` is
/// that of the current day's span.
WindowSpan current_or_next_span(const MaintenanceWindow& window, std::chrono::sys_seconds now);

/// True when `now` lies in a span of `window`.
bool in_window(const MaintenanceWindow& window, std::chrono::sys_seconds now);

/// `now` when inside `window`, else the instant its next span opens.
std::chrono::sys_seconds next_window_open(const MaintenanceWindow& window,
                                          std::chrono::sys_seconds now);

/// The instant the span containing `now` closes, or, outside `window`, the
/// instant the next span closes.
std::chrono::sys_seconds window_close(const MaintenanceWindow& window,
                                      std::chrono::sys_seconds now);

}  // namespace ef::device
