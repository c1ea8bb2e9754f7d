// Maintenance windows: spans that cross midnight, day filters, DST days in
// Europe/Berlin and Pacific/Auckland, a 30-minute zone (Asia/Kolkata), and a
// year of spans checked against GNU date.
#include "device/maintenance_window.hpp"

#include <gtest/gtest.h>

#include "tests/support/date_oracle.hpp"

namespace ef::device {
namespace {

using namespace std::chrono;

sys_seconds at(int64_t unix_seconds) {
  return sys_seconds(seconds(unix_seconds));
}
int64_t unix(sys_seconds t) {
  return t.time_since_epoch().count();
}

MaintenanceWindow window(const char* zone, minutes start, minutes end, std::bitset<7> days = 0x7f) {
  auto z = TimeZone::load(zone);
  EXPECT_TRUE(z) << z.error().message();
  MaintenanceWindow w;
  w.days = days;
  w.start = start;
  w.end = end;
  if (z) w.zone = *z;
  return w;
}

// The days bit set from c_encoding() numbers (0 Sunday).
std::bitset<7> on(std::initializer_list<unsigned> days) {
  std::bitset<7> b;
  for (auto d : days) b.set(d);
  return b;
}

TEST(MaintenanceWindowTest, OpensAtStartAndClosesAtEnd) {
  auto w = window("UTC", hours(2), hours(5));
  const int64_t day = 1718928000;  // 2024-06-21 00:00 UTC
  EXPECT_FALSE(in_window(w, at(day + 2 * 3600 - 1)));
  EXPECT_TRUE(in_window(w, at(day + 2 * 3600)));
  EXPECT_TRUE(in_window(w, at(day + 5 * 3600 - 1)));
  EXPECT_FALSE(in_window(w, at(day + 5 * 3600)));
  EXPECT_EQ(unix(next_window_open(w, at(day))), day + 2 * 3600);
  EXPECT_EQ(unix(next_window_open(w, at(day + 3 * 3600))), day + 3 * 3600);
  EXPECT_EQ(unix(window_close(w, at(day + 3 * 3600))), day + 5 * 3600);
  // After today's span: tomorrow's.
  EXPECT_EQ(unix(next_window_open(w, at(day + 5 * 3600))), day + 86400 + 2 * 3600);
  EXPECT_EQ(unix(window_close(w, at(day + 5 * 3600))), day + 86400 + 5 * 3600);
}

TEST(MaintenanceWindowTest, WholeDayWindowIsAlwaysOpen) {
  MaintenanceWindow w;  // every day, 00:00 to 00:00, UTC
  for (int64_t t = 1700000000; t < 1700000000 + 8 * 86400; t += 3700) {
    EXPECT_TRUE(in_window(w, at(t))) << t;
    EXPECT_EQ(unix(window_close(w, at(t))), (t / 86400 + 1) * 86400);
  }
}

TEST(MaintenanceWindowTest, MidnightCrossingWindowBelongsToTheDayItStarts) {
  // 22:00-04:00 IST (+05:30), Monday to Friday.
  auto w = window("Asia/Kolkata", hours(22), hours(4), on({1, 2, 3, 4, 5}));
  const int64_t fri_22 = 1717777800;  // Friday 2024-06-07 22:00 IST
  EXPECT_FALSE(in_window(w, at(fri_22 - 60)));
  EXPECT_TRUE(in_window(w, at(fri_22)));
  EXPECT_TRUE(in_window(w, at(fri_22 + 3 * 3600)));          // Saturday 01:00, Friday's span
  EXPECT_EQ(unix(window_close(w, at(fri_22))), 1717799400);  // Saturday 04:00 IST
  EXPECT_FALSE(in_window(w, at(1717799400)));
  EXPECT_FALSE(in_window(w, at(fri_22 + 86400)));                 // Saturday 22:00: not listed
  EXPECT_FALSE(in_window(w, at(fri_22 + 2 * 86400 + 5 * 3600)));  // Monday 03:00: Sunday's
  // Next: Monday 22:00 IST, 16:30 UTC.
  EXPECT_EQ(unix(next_window_open(w, at(fri_22 + 86400))), 1718037000);
  EXPECT_EQ(unix(next_window_open(w, at(1717799400))), 1718037000);
}

TEST(MaintenanceWindowTest, BerlinSpringForwardDayIsShorter) {
  // 2024-03-31: clocks go from 02:00 CET to 03:00 CEST at 01:00 UTC.
  auto w = window("Europe/Berlin", hours(2), hours(5));
  const int64_t jump = 1711846800;
  auto span = current_or_next_span(w, at(jump - 3600));
  EXPECT_EQ(unix(span.open), jump);              // 02:00 does not exist: opens at the jump
  EXPECT_EQ(unix(span.close), jump + 2 * 3600);  // 05:00 CEST
  EXPECT_FALSE(in_window(w, at(jump - 1)));
  EXPECT_TRUE(in_window(w, at(jump)));
  // A start inside the skipped hour opens at the jump too.
  auto late = window("Europe/Berlin", hours(2) + minutes(30), hours(4));
  EXPECT_EQ(unix(next_window_open(late, at(jump - 7200))), jump);
  EXPECT_EQ(unix(window_close(late, at(jump - 7200))), jump + 3600);
  // A window wholly inside the skipped hour does not happen that day.
  auto skipped = window("Europe/Berlin", hours(2) + minutes(15), hours(2) + minutes(45));
  EXPECT_EQ(unix(next_window_open(skipped, at(jump - 7200))), 1711930500);  // 2024-04-01 02:15
}

TEST(MaintenanceWindowTest, BerlinFallBackDayOpensOnce) {
  // 2024-10-27: clocks go from 03:00 CEST back to 02:00 CET at 01:00 UTC.
  const int64_t back = 1729990800;
  auto w = window("Europe/Berlin", hours(1), hours(5));
  auto span = current_or_next_span(w, at(back - 4 * 3600));
  EXPECT_EQ(unix(span.open), back - 2 * 3600);   // 01:00 CEST
  EXPECT_EQ(unix(span.close), back + 3 * 3600);  // 05:00 CET: five real hours
  // 02:00-02:30 happens twice on the clock; the window opens at the first only.
  auto twice = window("Europe/Berlin", hours(2), hours(2) + minutes(30));
  EXPECT_TRUE(in_window(twice, at(back - 3600)));
  EXPECT_FALSE(in_window(twice, at(back - 1800)));
  EXPECT_FALSE(in_window(twice, at(back + 600)));  // 02:10 CET, the second time round
  EXPECT_EQ(unix(next_window_open(twice, at(back))), back + 86400);  // 02:00 CET the next day
}

TEST(MaintenanceWindowTest, AucklandSouthernHemisphereDst) {
  auto w = window("Pacific/Auckland", hours(2), hours(5));
  // 2024-09-29: 02:00 NZST -> 03:00 NZDT at 14:00 UTC the day before.
  const int64_t spring = 1727532000;
  auto span = current_or_next_span(w, at(spring - 6 * 3600));
  EXPECT_EQ(unix(span.open), spring);
  EXPECT_EQ(unix(span.close), 1727539200);  // 05:00 NZDT
  // 2025-04-06: 03:00 NZDT -> 02:00 NZST; 02:00 first happens at 13:00 UTC.
  span = current_or_next_span(w, at(1743858000 - 3600));
  EXPECT_EQ(unix(span.open), 1743858000);
  EXPECT_EQ(unix(span.close), 1743872400);  // 05:00 NZST: four real hours
}

// A year of spans, walked from close to next open, against date's reading
// of each listed day's local start and end.
void expect_year_matches_date(const char* zone, minutes start, minutes end, std::bitset<7> listed) {
  auto w = window(zone, start, end, listed);
  auto hhmm = [](minutes m) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", long(m.count() / 60), long(m.count() % 60));
    return std::string(buf);
  };
  std::vector<std::string> opens, closes;
  local_days first{year(2024) / January / 1};
  for (auto d = first; d < first + days(366); d += days(1)) {
    if (!w.days.test(weekday(d).c_encoding())) continue;
    auto ymd = [](local_days x) {
      year_month_day v(x);
      char buf[48];
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02u ", int(v.year()), unsigned(v.month()),
                    unsigned(v.day()));
      return std::string(buf);
    };
    opens.push_back(ymd(d) + hhmm(start));
    closes.push_back(ymd(end > start ? d : d + days(1)) + hhmm(end));
  }
  auto want_open = test::date_oracle(zone, opens, "%s");
  auto want_close = test::date_oracle(zone, closes, "%s");
  ASSERT_EQ(want_open.size(), opens.size()) << zone;
  ASSERT_EQ(want_close.size(), closes.size()) << zone;
  sys_seconds now = w.zone.first_at_or_after(first + start);  // after any 2023 span
  for (size_t i = 0; i < opens.size(); ++i) {
    auto span = current_or_next_span(w, now);
    ASSERT_EQ(std::to_string(unix(span.open)), want_open[i]) << zone << " " << opens[i];
    ASSERT_EQ(std::to_string(unix(span.close)), want_close[i]) << zone << " " << closes[i];
    EXPECT_FALSE(in_window(w, span.open - seconds(1)));
    EXPECT_TRUE(in_window(w, span.open));
    now = span.close;
  }
}

TEST(MaintenanceWindowTest, YearOfSpansMatchesGnuDate) {
  // Times clear of every DST change in these zones, so date's answer is unique.
  expect_year_matches_date("Europe/Berlin", hours(12), hours(13) + minutes(30), on({1, 3, 6}));
  expect_year_matches_date("America/New_York", hours(23), hours(1), 0x7f);
  expect_year_matches_date("Pacific/Auckland", hours(22) + minutes(30), hours(21), on({0, 5}));
  expect_year_matches_date("Asia/Kolkata", hours(4), hours(4), on({2}));
}

}  // namespace
}  // namespace ef::device
