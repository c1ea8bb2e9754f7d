#include "device/maintenance_window.hpp"

#include <algorithm>
#include <optional>

namespace ef::device {

namespace {

using std::chrono::days;
using std::chrono::local_days;
using std::chrono::sys_seconds;

// The span of the window on local day `day`, if the window has one then.
std::optional<WindowSpan> span_on(const MaintenanceWindow& w, local_days day) {
  if (!w.days.test(std::chrono::weekday(day).c_encoding())) return std::nullopt;
  auto length = w.end > w.start ? w.end - w.start : w.end - w.start + days(1);
  auto open_local = day + w.start;
  WindowSpan span{w.zone.first_at_or_after(open_local),
                  w.zone.first_at_or_after(open_local + length)};
  // Empty when the whole span lies in an hour the clocks skip.
  if (span.open >= span.close) return std::nullopt;
  return span;
}

}  // namespace

WindowSpan current_or_next_span(const MaintenanceWindow& window, sys_seconds now) {
  // Spans are ordered and disjoint (each lasts at most a day and the local
  // to UTC mapping never goes back), so the first one still open is it. A
  // span of the day before can still be open; one listed day a week whose
  // span is skipped by DST means looking two weeks ahead.
  auto today = std::chrono::floor<days>(window.zone.to_local(now));
  for (auto day = today - days(1); day <= today + days(15); day += days(1)) {
    auto span = span_on(window, day);
    if (span && now < span->close) return *span;
  }
  // Only when no day is set, which the site parser refuses.
  return {sys_seconds::max(), sys_seconds::max()};
}

bool in_window(const MaintenanceWindow& window, sys_seconds now) {
  return current_or_next_span(window, now).open <= now;
}

sys_seconds next_window_open(const MaintenanceWindow& window, sys_seconds now) {
  return std::max(now, current_or_next_span(window, now).open);
}

sys_seconds window_close(const MaintenanceWindow& window, sys_seconds now) {
  return current_or_next_span(window, now).close;
}

}  // namespace ef::device
