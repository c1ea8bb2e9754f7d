// The rollout arithmetic each device does alone: shares per wave over a
// simulated fleet, places that never move between polls, tags before
// percentages, soak times and per-hour caps.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <numeric>
#include <random>

#include "channel/rollout.hpp"
#include "tests/channel/channel_fixture.hpp"

namespace ef::channel {
namespace {

using namespace fixture;

std::string device_id(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "site-%05d", i);
  return buf;
}

ChannelDoc percent_only() {
  ChannelDoc d = sample_doc();
  d.rollout.waves = {percent_wave("one", 1), percent_wave("five", 5), percent_wave("quarter", 25),
                     percent_wave("all", 100)};
  return d;
}

TEST(Rollout, EachWaveHoldsItsShareOfTenThousandDevices) {
  ChannelDoc d = percent_only();
  std::map<size_t, int> count;
  for (int i = 0; i < 10'000; ++i) {
    auto w = wave_of(d, DeviceIdentity{device_id(i), {}});
    ASSERT_TRUE(w);
    ++count[*w];
  }
  const double share[] = {1, 4, 20, 75};  // percent of the fleet in each wave
  for (size_t w = 0; w < 4; ++w) {
    double got = count[w] / 100.0;
    EXPECT_NEAR(got, share[w], 1.0) << "wave " << d.rollout.waves[w].name;
  }
  // A plan that stops at 25 % leaves three quarters out, not in some wave.
  d.rollout.waves.pop_back();
  int out = 0;
  for (int i = 0; i < 10'000; ++i) out += !wave_of(d, DeviceIdentity{device_id(i), {}});
  EXPECT_NEAR(out / 100.0, 75.0, 1.0);
}

TEST(Rollout, ADevicesWaveNeverChangesBetweenPolls) {
  ChannelDoc d = percent_only();
  std::vector<std::optional<size_t>> first;
  for (int i = 0; i < 2'000; ++i) first.push_back(wave_of(d, DeviceIdentity{device_id(i), {}}));
  // Later polls see new metadata versions, a pause, a new expiry, a later
  // clock: none of it moves a device.
  for (int poll = 1; poll <= 5; ++poll) {
    d.version += 1;
    d.paused = poll % 2;
    d.expires += 86400;
    for (int i = 0; i < 2'000; ++i) {
      DeviceIdentity dev{device_id(i), {}};
      ASSERT_EQ(wave_of(d, dev), first[i]) << dev.id << " poll " << poll;
      (void)turn_of(d, dev, kNow + poll * 3600);
      ASSERT_EQ(turn_of(d, dev, kNow + poll * 3600).wave, first[i]);
    }
  }
  // A new release draws new places: the first 1 % is not always the same.
  d.release->version = *SemVer::parse("1.3.0");
  int moved = 0;
  for (int i = 0; i < 2'000; ++i) moved += wave_of(d, DeviceIdentity{device_id(i), {}}) != first[i];
  EXPECT_GT(moved, 200);
}

TEST(Rollout, TagsAndDeviceListsOverridePercentages) {
  ChannelDoc d = sample_doc();  // canary (tag), safe (nuc-0001), 5 %, 25 %, 100 %
  // Put the tag wave last: it still wins over the percentages.
  std::rotate(d.rollout.waves.begin(), d.rollout.waves.begin() + 1, d.rollout.waves.end());
  int in_canary = 0;
  for (int i = 0; i < 1'000; ++i) {
    DeviceIdentity dev{device_id(i), {{"ring", "canary"}, {"site", "berlin"}}};
    auto w = wave_of(d, dev);
    ASSERT_TRUE(w);
    in_canary += d.rollout.waves[*w].name == "canary";
  }
  EXPECT_EQ(in_canary, 1'000);
  auto safe = wave_of(d, DeviceIdentity{"nuc-0001", {}});
  ASSERT_TRUE(safe);
  EXPECT_EQ(d.rollout.waves[*safe].name, "safe");
  // A tag wave needs every tag it names.
  d.rollout.waves.back().tags["site"] = "paris";
  auto w = wave_of(d, DeviceIdentity{device_id(1), {{"ring", "canary"}, {"site", "berlin"}}});
  ASSERT_TRUE(w);
  EXPECT_NE(d.rollout.waves[*w].name, "canary");
}

TEST(Rollout, WavesOpenAfterTheirSoakAndNotBefore) {
  ChannelDoc d = sample_doc();
  d.rollout.waves[1].not_before = kNow + 7200;
  auto opens = wave_open_times(d.rollout);
  ASSERT_EQ(opens.size(), 5u);
  EXPECT_EQ(opens[0], kNow);
  EXPECT_EQ(opens[1], kNow + 7200);
  EXPECT_EQ(opens[2], kNow + 7200);
  EXPECT_EQ(opens[3], kNow + 7200 + 86400);
  EXPECT_EQ(opens[4], kNow + 7200 + 3 * 86400);
  DeviceIdentity safe{"nuc-0001", {}};
  EXPECT_EQ(turn_of(d, safe, kNow + 3600).state, Turn::State::waiting);
  EXPECT_EQ(turn_of(d, safe, kNow + 7200).state, Turn::State::go);
  d.paused = true;
  auto paused = turn_of(d, safe, kNow + 7200);
  EXPECT_EQ(paused.state, Turn::State::paused);
  EXPECT_NE(describe(d, paused).find("paused"), std::string::npos);
  d.release.reset();
  EXPECT_EQ(turn_of(d, safe, kNow).state, Turn::State::no_release);
}

TEST(Rollout, AZeroPercentWaveHoldsNobody) {
  ChannelDoc d = sample_doc();
  d.rollout.waves = {percent_wave("none", 0)};
  for (int i = 0; i < 1'000; ++i)
    EXPECT_EQ(turn_of(d, DeviceIdentity{device_id(i), {}}, kNow + 86400).state,
              Turn::State::not_in_plan);
  auto view = view_rollout(d, kNow + 86400);
  EXPECT_EQ(view.eligible, 0.0);
}

TEST(Rollout, ShowExplainsWhatIsOpenAndWhoIsEligible) {
  ChannelDoc d = sample_doc();
  auto view = view_rollout(d, kNow + 3600);  // first hour: early wave capped at 50/h
  ASSERT_EQ(view.waves.size(), 5u);
  EXPECT_TRUE(view.waves[2].open);
  EXPECT_FALSE(view.waves[3].open);
  EXPECT_NEAR(view.waves[2].share, 0.05, 1e-9);
  EXPECT_NEAR(view.waves[2].eligible, 50.0 / 2000, 1e-9);
  EXPECT_NEAR(view.eligible, 0.025, 1e-9);
  EXPECT_NE(view.waves[0].selects.find("ring=canary"), std::string::npos);
  view = view_rollout(d, kNow + 4 * 86400);
  EXPECT_NEAR(view.eligible, 1.0, 1e-9);
  d.paused = true;
  EXPECT_EQ(view_rollout(d, kNow + 4 * 86400).eligible, 0.0);
}

// 2,000 devices with their own poll phase and clock error poll every 4 h
// (+- 30 min jitter) for a week; each starts when its turn has come. The
// table printed per wave and day shows the waves open in order and the 50/h
// cap of the early wave holds.
TEST(Rollout, AFleetOfTwoThousandFollowsThePlan) {
  ChannelDoc d = sample_doc();
  std::mt19937_64 rng(42);
  const int kDevices = 2'000;
  struct Sim {
    DeviceIdentity id;
    int64_t phase, skew;
    bool started = false;
  };
  std::vector<Sim> fleet;
  for (int i = 0; i < kDevices; ++i) {
    DeviceIdentity dev{device_id(i), {}};
    if (i < 20) dev.tags["ring"] = "canary";
    if (i == 20) dev.id = "nuc-0001";
    fleet.push_back(
        {dev, static_cast<int64_t>(rng() % (4 * 3600)), static_cast<int64_t>(rng() % 600) - 300});
  }
  auto opens = wave_open_times(d.rollout);
  std::map<size_t, std::map<int64_t, int>> per_hour;  // wave -> hour -> starts
  const int64_t kInterval = 4 * 3600;
  for (int64_t t = kNow; t < kNow + 7 * 86400; t += 60) {
    for (auto& dev : fleet) {
      if (dev.started) continue;
      int64_t since = t - kNow - dev.phase;
      int64_t jitter = static_cast<int64_t>(std::hash<std::string>{}(dev.id.id) % 3600) - 1800;
      if (since < 0 || (since % (kInterval + jitter)) >= 60) continue;  // not polling now
      Turn turn = turn_of(d, dev.id, t + dev.skew);
      if (turn.state != Turn::State::go) continue;
      dev.started = true;
      ASSERT_GE(t + dev.skew, opens[*turn.wave]) << dev.id.id << " started before its wave";
      per_hour[*turn.wave][(t - kNow) / 3600]++;
    }
  }
  int total = 0;
  for (auto& [wave, hours] : per_hour) {
    int sum = 0, peak = 0;
    for (auto& [hour, n] : hours) sum += n, peak = std::max(peak, n);
    total += sum;
    std::printf("wave %-8s opens +%3lldh: %4d devices, first start +%3lldh, busiest hour %d\n",
                d.rollout.waves[wave].name.c_str(),
                static_cast<long long>((opens[wave] - kNow) / 3600), sum,
                static_cast<long long>(hours.begin()->first), peak);
  }
  EXPECT_EQ(total, kDevices) << "every device is in some wave of this plan";
  EXPECT_EQ(per_hour[0].size() > 0 ? std::accumulate(per_hour[0].begin(), per_hour[0].end(), 0,
                                                     [](int a, auto& p) { return a + p.second; })
                                   : 0,
            20);
  // The 50/h cap: devices start at their poll after their turn, so an hour
  // can take a few more than 50 when earlier turns were still waiting for
  // their poll, but no 4 h poll period takes more than 4 h of the cap plus
  // those carried over from the period before.
  for (auto& [hour, n] : per_hour[2]) {
    int window = 0;
    for (int64_t h = hour; h < hour + 4; ++h) window += per_hour[2].count(h) ? per_hour[2][h] : 0;
    EXPECT_LE(window, 2 * 4 * 50) << "hour " << hour;
  }
  EXPECT_GE(per_hour[2].size(), 2u);  // the early wave spreads over hours
}

}  // namespace
}  // namespace ef::channel
