// The device's decision on a channel (agent/watch.hpp): each reason to do
// nothing or to wait, the artifact it installs, the reboot policies, and a
// fleet of 2,000 devices with their own clocks, windows and time zones
// polling a staged rollout for two weeks.
#include "agent/watch.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "tests/channel/channel_fixture.hpp"

namespace ef::agent {
namespace {

using namespace channel::fixture;
using Action = WatchDecision::Action;
using std::chrono::hours;
using std::chrono::minutes;

const std::string kUrl = "https://updates.example.com/fleet/stable.json";

WatchFacts facts(const std::string& id = "nuc-0001") {
  WatchFacts f;
  f.product = "quickstart";
  f.compatible = "edgeforge-quickstart";
  f.running = *SemVer::parse("1.1.0");
  f.identity = {id, {}};
  return f;
}

device::MaintenanceWindow window(const std::string& zone, int start_h, int end_h) {
  device::MaintenanceWindow w;
  w.start = hours(start_h);
  w.end = hours(end_h);
  auto z = TimeZone::load(zone);
  EXPECT_TRUE(z) << z.error().message();
  w.zone = *z;
  return w;
}

WatchDecision decide_ok(const channel::ChannelDoc& d, const WatchFacts& f, UnixSeconds now) {
  auto r = decide(d, kUrl, f, now);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : WatchDecision{};
}

TEST(Watch, TheSafeDeviceUpgradesFromTheHeadAtOnce) {
  auto d = decide_ok(sample_doc(), facts("nuc-0001"), kNow + 60);
  EXPECT_EQ(d.action, Action::upgrade) << d.why;
  EXPECT_TRUE(d.is_head);
  EXPECT_EQ(d.url, "https://updates.example.com/fleet/quickstart-1.2.0.efbh");
  EXPECT_EQ(d.artifact.sha256, std::string(64, 'b'));
  EXPECT_EQ(d.version.str(), "1.2.0");
  EXPECT_NE(d.why.find("wave \"safe\""), std::string::npos) << d.why;
}

TEST(Watch, WithoutAHeadTheFullBundleIsInstalled) {
  auto doc = sample_doc();
  doc.release->head.reset();
  auto d = decide_ok(doc, facts("nuc-0001"), kNow);
  EXPECT_EQ(d.action, Action::upgrade);
  EXPECT_FALSE(d.is_head);
  EXPECT_EQ(d.url, "https://updates.example.com/fleet/bundles/quickstart-1.2.0.efb");
}

TEST(Watch, EachReasonToDoNothingIsSaid) {
  struct Case {
    std::string name;
    std::function<void(channel::ChannelDoc&, WatchFacts&)> edit;
    std::string why;
  };
  std::vector<Case> cases = {
      {"no release", [](auto& d, auto&) { d.release.reset(); }, "names no release"},
      {"other product", [](auto&, auto& f) { f.product = "other"; }, "is not for this device"},
      {"other compatible", [](auto&, auto& f) { f.compatible = "nuc-x"; },
       "is not for this device"},
      {"up to date", [](auto&, auto& f) { f.running = *SemVer::parse("1.2.0"); },
       "up to date: running quickstart 1.2.0"},
      {"newer running", [](auto&, auto& f) { f.running = *SemVer::parse("1.3.0"); },
       "never downgrades"},
      {"failed here", [](auto&, auto& f) { f.failed = {*SemVer::parse("1.2.0")}; },
       "failed its health check on this device"},
      {"staged", [](auto&, auto& f) { f.staged = *SemVer::parse("1.2.0"); },
       "installed and waits for its reboot"},
      {"in no wave", [](auto& d, auto&) { d.rollout.waves = {percent_wave("none", 0)}; },
       "no wave of the rollout holds this device"},
  };
  for (const Case& c : cases) {
    auto doc = sample_doc();
    auto f = facts();
    c.edit(doc, f);
    auto d = decide_ok(doc, f, kNow + 3600);
    EXPECT_EQ(d.action, Action::nothing) << c.name << ": " << d.why;
    EXPECT_NE(d.why.find(c.why), std::string::npos) << c.name << ": " << d.why;
    EXPECT_FALSE(d.until) << c.name;
  }
}

TEST(Watch, APausedChannelWaitsWithNoTimeAndAClosedWaveUntilItOpens) {
  auto doc = sample_doc();
  doc.paused = true;
  auto d = decide_ok(doc, facts(), kNow + 3600);
  EXPECT_EQ(d.action, Action::wait);
  EXPECT_NE(d.why.find("paused"), std::string::npos) << d.why;
  EXPECT_FALSE(d.until);

  // A device of the 100 % wave (soak 1 d + 2 d after the 5 % wave).
  doc.paused = false;
  std::string late;
  for (int i = 0; late.empty(); ++i) {
    std::string id = "dev-" + std::to_string(i);
    auto w = channel::wave_of(doc, {id, {}});
    if (w && doc.rollout.waves[*w].name == "all") late = id;
  }
  d = decide_ok(doc, facts(late), kNow + 3600);
  EXPECT_EQ(d.action, Action::wait) << d.why;
  ASSERT_TRUE(d.until);
  EXPECT_EQ(*d.until, kNow + 3 * 86400);
  EXPECT_EQ(decide_ok(doc, facts(late), *d.until).action, Action::upgrade);
}

TEST(Watch, OutsideTheWindowItWaitsForTheWindowToOpen) {
  auto f = facts("nuc-0001");
  f.window = window("Europe/Berlin", 2, 5);  // kNow is 01:00 in Berlin (UTC+1)
  auto d = decide_ok(sample_doc(), f, kNow);
  EXPECT_EQ(d.action, Action::wait) << d.why;
  ASSERT_TRUE(d.until);
  EXPECT_EQ(*d.until, kNow + 3600) << format_utc(*d.until);
  EXPECT_NE(d.why.find("outside the maintenance window, which opens at 2026-12-05T01:00:00Z"),
            std::string::npos)
      << d.why;
  EXPECT_EQ(decide_ok(sample_doc(), f, kNow + 3600).action, Action::upgrade);
  EXPECT_EQ(decide_ok(sample_doc(), f, kNow + 4 * 3600 - 1).action, Action::upgrade);
  EXPECT_EQ(decide_ok(sample_doc(), f, kNow + 4 * 3600).action, Action::wait);
}

TEST(Watch, AnArtifactOutsideTheChannelDirectoryIsAnError) {
  auto doc = sample_doc();
  doc.release->head->url = "../other/quickstart-1.2.0.efbh";  // parse_doc refuses such a file
  auto r = decide(doc, kUrl, facts("nuc-0001"), kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::bad_channel);
}

TEST(Watch, RebootPolicies) {
  auto w = window("UTC", 2, 4);
  EXPECT_TRUE(may_reboot("immediate", w, kNow).now);
  EXPECT_TRUE(may_reboot("window", std::nullopt, kNow).now);
  auto v = may_reboot("window", w, kNow);
  EXPECT_FALSE(v.now);
  EXPECT_EQ(v.until, kNow + 2 * 3600);
  EXPECT_TRUE(may_reboot("window", w, kNow + 2 * 3600).now);
  v = may_reboot("manual", std::nullopt, kNow);
  EXPECT_FALSE(v.now);
  EXPECT_NE(v.why.find("edgeforge-agent reboot"), std::string::npos);
}

// 2,000 devices in five time zones, each with a nightly 3-hour window (some
// on weekdays only) and a clock up to 5 minutes off, poll the sample channel
// for two weeks as edgeforge-watch.timer runs them: every 4 h plus a random
// delay of up to 30 min, and once more when a wait ends before that (the
// transient timer `watch` arms, itself delayed by up to 10 min). Every start
// lies in the device's wave and window by its own clock, the capped wave
// keeps to its rate, and every device has the release at the end.
TEST(Watch, TwoThousandDevicesKeepToTheirWavesAndWindows) {
  const channel::ChannelDoc doc = sample_doc();
  const std::vector<std::string> zones = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo",
                                          "Australia/Sydney"};
  std::mt19937_64 rng(7);
  auto random = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
  struct Device {
    WatchFacts facts;
    int64_t next_poll, skew;
    bool started = false;
  };
  std::vector<Device> fleet;
  for (int i = 0; i < 2000; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "store-%04d", i);
    WatchFacts f = facts(id);
    if (i < 20) f.identity.tags["ring"] = "canary";
    if (i == 20) f.identity.id = "nuc-0001";
    int start = static_cast<int>(random(4));  // 00:00..03:00 local
    f.window = window(zones[i % zones.size()], start, start + 3);
    if (i % 7 == 0) f.window->days = std::bitset<7>(0b0111110);  // Mon..Fri
    fleet.push_back({f, kNow + random(4 * 3600), random(600) - 300});
  }
  const auto opens = channel::wave_open_times(doc.rollout);
  std::map<size_t, std::map<int64_t, int>> per_hour;  // wave -> hour since release -> starts
  int waits_for_window = 0;
  int wakes = 0;
  for (int64_t t = kNow; t < kNow + 14 * 86400; t += 60) {
    for (Device& dev : fleet) {
      if (dev.started || dev.next_poll > t) continue;
      const UnixSeconds clock = t + dev.skew;
      auto d = decide(doc, kUrl, dev.facts, clock);
      ASSERT_TRUE(d);
      dev.next_poll = t + 4 * 3600 + random(30 * 60);
      if (d->action == Action::wait && d->why.find("maintenance window") != std::string::npos)
        ++waits_for_window;
      if (d->action == Action::wait && d->until && t + (*d->until - clock) < dev.next_poll) {
        dev.next_poll = t + (*d->until - clock) + random(600);
        ++wakes;
      }
      if (d->action != Action::upgrade) continue;
      dev.started = true;
      auto wave = channel::wave_of(doc, dev.facts.identity);
      ASSERT_TRUE(wave);
      ASSERT_GE(clock, opens[*wave]) << dev.facts.identity.id << " started before its wave";
      ASSERT_TRUE(device::in_window(*dev.facts.window,
                                    std::chrono::sys_seconds(std::chrono::seconds(clock))))
          << dev.facts.identity.id << " started outside its window at " << format_utc(clock);
      per_hour[*wave][(t - kNow) / 3600]++;
    }
  }
  int total = 0;
  std::printf("wave       opens   devices  first  last  busiest hour\n");
  for (auto& [wave, hours_started] : per_hour) {
    int sum = 0, peak = 0;
    for (auto& [hour, n] : hours_started) sum += n, peak = std::max(peak, n);
    total += sum;
    std::printf("%-9s %+5lldh  %7d  %+4lldh %+5lldh  %d\n", doc.rollout.waves[wave].name.c_str(),
                static_cast<long long>((opens[wave] - kNow) / 3600), sum,
                static_cast<long long>(hours_started.begin()->first),
                static_cast<long long>(hours_started.rbegin()->first), peak);
  }
  std::printf("polls that waited for the maintenance window: %d, wakes armed: %d\n",
              waits_for_window, wakes);
  EXPECT_EQ(total, 2000) << "every device has the release within two weeks";
  int canary = 0;
  for (auto& [hour, n] : per_hour[0]) canary += n;
  EXPECT_EQ(canary, 20);
  EXPECT_GT(waits_for_window, 1000) << "the windows, not the waves alone, held devices back";
  // The capped wave (50/h): turns are spread by the cap; a device starts at
  // its first poll in its window after its turn, so starts bunch at window
  // openings, but no day takes more than the cap's 24 h worth.
  std::map<int64_t, int> per_day;
  for (auto& [hour, n] : per_hour[2]) per_day[hour / 24] += n;
  for (auto& [day, n] : per_day) EXPECT_LE(n, 24 * 50) << "day " << day;
  EXPECT_GE(per_hour[2].size(), 2u);
}

}  // namespace
}  // namespace ef::agent
