// TimeZone against GNU date (glibc reading the same tzdata): local times for
// hundreds of instants around DST changes, before and after the last
// transition a TZif file stores, and in a "slim" file built by zic.
#include "util/time_zone.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/support/command.hpp"
#include "tests/support/date_oracle.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef {
namespace {

using namespace std::chrono;

const char* const kZoneinfo = "/usr/share/zoneinfo";

// "2024-03-31-03:00:00-Sun", like date +%F-%T-%a.
std::string format_local(local_seconds t) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  auto day = floor<days>(t);
  year_month_day ymd(day);
  hh_mm_ss hms(t - day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u-%02ld:%02ld:%02ld-%s", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(hms.hours().count()),
                long(hms.minutes().count()), long(hms.seconds().count()),
                kDays[weekday(day).c_encoding()]);
  return buf;
}

// Unix seconds of `local_seconds` after 00:00 UTC on the nth (1..4, 0 =
// last) Sunday of month `m`: where a DST rule changes the clocks.
int64_t sunday(int y, unsigned m, unsigned nth, int64_t seconds_after) {
  sys_days d = nth == 0 ? sys_days(year(y) / month(m) / Sunday[last])
                        : sys_days(year(y) / month(m) / Sunday[nth]);
  return d.time_since_epoch().count() * 86400 + seconds_after;
}

struct RuleChange {
  unsigned month, nth;
  int64_t utc_seconds;  // of the change, relative to 00:00 UTC that Sunday
};

// Instants to check in a zone: a few either side of each DST change its
// rules make (the oracle, not these rules, says what is right), in years
// inside and past the file's stored transitions, plus pseudo-random ones
// from 1901 to 2100.
std::vector<int64_t> instants(const std::vector<RuleChange>& changes) {
  std::vector<int64_t> out;
  for (int y : {1996, 2007, 2024, 2025, 2037, 2038, 2045, 2075}) {
    for (const auto& c : changes) {
      int64_t t = sunday(y, c.month, c.nth, c.utc_seconds);
      for (int64_t d : {-3601, -1, 0, 1, 1800, 3599, 3600, 7200}) out.push_back(t + d);
    }
  }
  uint64_t seed = 0x9e3779b97f4a7c15;
  for (int i = 0; i < 60; ++i) {
    seed = seed * 6364136223846793005 + 1442695040888963407;
    out.push_back(-2145916800 + static_cast<int64_t>((seed >> 11) % 6311347200));  // 1902..2102
  }
  return out;
}

void expect_matches_date(const TimeZone& zone, const std::string& tz,
                         const std::vector<int64_t>& times) {
  std::vector<std::string> inputs;
  for (auto t : times) inputs.push_back("@" + std::to_string(t));
  auto expected = test::date_oracle(tz, inputs, "%F-%T-%a");
  ASSERT_EQ(expected.size(), times.size()) << "date failed for " << tz;
  int mismatches = 0;
  for (size_t i = 0; i < times.size() && mismatches < 10; ++i) {
    auto got = format_local(zone.to_local(sys_seconds(seconds(times[i]))));
    if (got != expected[i]) ++mismatches;
    EXPECT_EQ(got, expected[i]) << tz << " at @" << times[i];
  }
}

TEST(TimeZone, LocalTimesMatchGnuDateAcrossDstChanges) {
  const int64_t h = 3600;
  struct Case {
    const char* zone;
    std::vector<RuleChange> changes;
  };
  const std::vector<Case> cases = {
      {"Europe/Berlin", {{3, 0, 1 * h}, {10, 0, 1 * h}}},
      {"America/New_York", {{3, 2, 7 * h}, {11, 1, 6 * h}}},
      {"Pacific/Auckland", {{9, 0, 2 * h - 12 * h}, {4, 1, 3 * h - 13 * h}}},
      {"Australia/Lord_Howe", {{10, 1, 2 * h - 10 * h - h / 2}, {4, 1, 2 * h - 11 * h}}},
      {"America/St_Johns", {{3, 2, 2 * h + 3 * h + h / 2}, {11, 1, 2 * h + 2 * h + h / 2}}},
      {"Asia/Kolkata", {{1, 1, 0}}},
      {"Asia/Kathmandu", {{1, 1, 0}}},
      {"Africa/Casablanca", {{3, 0, 2 * h}, {4, 1, 2 * h}}},
      {"America/Sao_Paulo", {{11, 1, 3 * h}, {2, 3, 2 * h}}},
      {"UTC", {{1, 1, 0}}},
  };
  size_t checked = 0;
  for (const auto& c : cases) {
    auto zone = TimeZone::load(c.zone);
    ASSERT_TRUE(zone) << zone.error().message();
    auto times = instants(c.changes);
    expect_matches_date(*zone, c.zone, times);
    checked += times.size();
  }
  EXPECT_GT(checked, 1000u);
}

TEST(TimeZone, SlimFileFromZicUsesItsFooterRule) {
  if (!test::have_tool("zic")) GTEST_SKIP() << "zic not installed";
  test::TempDir tmp;
  // A southern-hemisphere zone with a 30-minute offset, so that the footer
  // carries everything after 2000.
  auto source = tmp.write("test.zi",
                          "Rule T 2000 max - Oct Sun>=1 2:00 1:00 D\n"
                          "Rule T 2001 max - Apr Sun>=1 3:00 0 S\n"
                          "Zone Test/Half 9:30 - +0930 2000\n"
                          "                9:30 T +0930/+1030\n");
  auto out = test::run_command("zic -b slim -d " + (tmp.path() / "zi").string() + " " +
                               source.string() + " 2>&1");
  ASSERT_EQ(out.status, 0) << out.out;
  std::ifstream in(tmp.path() / "zi/Test/Half", std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  auto zone = TimeZone::from_tzif(data.str(), "Test/Half");
  ASSERT_TRUE(zone) << zone.error().message();
  const int64_t h = 3600;
  auto times = instants({{10, 1, 2 * h - 9 * h - h / 2}, {4, 1, 3 * h - 10 * h - h / 2}});
  expect_matches_date(*zone, ":" + (tmp.path() / "zi/Test/Half").string(), times);
}

TEST(TimeZone, FirstAtOrAfterHandlesSkippedAndRepeatedTimes) {
  auto berlin = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(berlin) << berlin.error().message();
  auto utc_of = [&](local_days d, minutes m) {
    return berlin->first_at_or_after(d + m).time_since_epoch().count();
  };
  local_days spring{year(2024) / March / 31};
  // 02:30 does not exist: the clocks jump from 02:00 CET to 03:00 CEST at 01:00 UTC.
  EXPECT_EQ(utc_of(spring, hours(2)), 1711846800);
  EXPECT_EQ(utc_of(spring, hours(2) + minutes(30)), 1711846800);
  EXPECT_EQ(utc_of(spring, hours(3)), 1711846800);
  EXPECT_EQ(utc_of(spring, hours(1) + minutes(59)), 1711846800 - 60);
  local_days autumn{year(2024) / October / 27};
  // 02:30 happens twice (CEST, then CET): the first, at 00:30 UTC.
  EXPECT_EQ(utc_of(autumn, hours(2) + minutes(30)), 1729989000);
  EXPECT_EQ(utc_of(autumn, hours(3)), 1729990800 + 3600);
  // Every instant maps back to itself or to an earlier instant with the same local time.
  for (int64_t t = 1729980000; t < 1730000000; t += 450) {
    auto local = berlin->to_local(sys_seconds(seconds(t)));
    auto first = berlin->first_at_or_after(local);
    EXPECT_LE(first.time_since_epoch().count(), t);
    EXPECT_EQ(berlin->to_local(first), local);
  }
}

TEST(TimeZone, ParsesPosixRules) {
  auto nz = TimeZone::from_posix("NZST-12NZDT,M9.5.0,M4.1.0/3");
  ASSERT_TRUE(nz) << nz.error().message();
  EXPECT_EQ(nz->offset_at(sys_seconds(seconds(1727532000 - 1))).count(), 12 * 3600);
  EXPECT_EQ(nz->offset_at(sys_seconds(seconds(1727532000))).count(), 13 * 3600);
  auto india = TimeZone::from_posix("<+0530>-5:30");
  ASSERT_TRUE(india) << india.error().message();
  EXPECT_EQ(india->offset_at(sys_seconds(seconds(0))).count(), 5 * 3600 + 1800);
  // DST all year (Julian days, times past 24h) stays DST across new year.
  auto all_year = TimeZone::from_posix("EST5EDT,0/0,J365/25");
  ASSERT_TRUE(all_year) << all_year.error().message();
  EXPECT_EQ(all_year->offset_at(sys_seconds(seconds(1704085200))).count(), -4 * 3600);
  EXPECT_EQ(all_year->offset_at(sys_seconds(seconds(1719792000))).count(), -4 * 3600);
  for (const char* bad : {"", "C", "CET", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0",
                          "CET-1CEST,M3.5.0,M10.5.0/3x", "<+05-5"})
    EXPECT_FALSE(TimeZone::from_posix(bad)) << bad;
}

TEST(TimeZone, RefusesNamesOutsideZoneinfoAndMissingOrMalformedZones) {
  for (const char* name : {"../../etc/passwd", "/etc/localtime", "Europe/../../etc/passwd", "..",
                           "Europe/Berlin ", "Europe\\Berlin", ""}) {
    auto z = TimeZone::load(name);
    ASSERT_FALSE(z) << name;
    EXPECT_EQ(z.error().code(), Errc::invalid_argument) << name;
  }
  auto missing = TimeZone::load("Europe/Berln");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_NE(missing.error().message().find("Europe/Berln"), std::string::npos);
  auto dir = TimeZone::load("Europe");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code(), Errc::not_found);
  test::TempDir tmp;
  tmp.write("Bad/Zone", "not a zone file");
  auto bad = TimeZone::load("Bad/Zone", tmp.path());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("not a TZif file"), std::string::npos)
      << bad.error().message();
  // Truncated anywhere: an error, never a crash.
  std::ifstream in(std::string(kZoneinfo) + "/Europe/Berlin", std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  std::string whole = data.str();
  for (size_t n = 0; n + 1 < whole.size(); n += 7)
    EXPECT_FALSE(TimeZone::from_tzif(whole.substr(0, n), "cut")) << n;
  EXPECT_TRUE(TimeZone::from_tzif(whole, "whole"));
}

}  // namespace
}  // namespace ef
