// site.yaml's `updates:` section: values, defaults, and one-line errors that
// name file:line:column and the key.
#include <gtest/gtest.h>

#include "device/site.hpp"
#include "device/watch_timer.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::site {
namespace {

using namespace std::chrono;

TEST(SiteUpdatesTest, ParsesEveryKey) {
  auto s = parse_site(R"(hostname: edge-1
updates:
  channel: https://updates.example.com/stable.json
  interval: 4h
  jitter: 30m
  reboot: immediate
  window:
    days: [mon, tue, wed, thu, fri]
    start: "02:00"
    end: 05:30
    timezone: Europe/Berlin
)",
                      "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE(s->updates);
  const auto& u = *s->updates;
  EXPECT_EQ(u.channel, "https://updates.example.com/stable.json");
  EXPECT_EQ(u.interval, hours(4));
  EXPECT_EQ(u.jitter, minutes(30));
  EXPECT_EQ(u.reboot, RebootPolicy::immediate);
  ASSERT_TRUE(u.window);
  EXPECT_EQ(u.window->days.to_string(), "0111110");  // bit 0 (Sunday) on the right
  EXPECT_EQ(u.window->start, hours(2));
  EXPECT_EQ(u.window->end, hours(5) + minutes(30));
  EXPECT_EQ(u.window->zone.name(), "Europe/Berlin");
}

// The watch's own site file and the timer drop-in, rendered from the site;
// the rendered file parses back to the same settings, and holds no secret.
TEST(SiteUpdatesTest, RendersTheWatchSiteFileAndTheTimerDropIn) {
  auto s = parse_site(R"(hostname: edge-1
registration: {endpoint: "https://fleet.example.com", token: s3cr3t}
tags: {ring: canary, "store id": "0042"}
updates:
  channel: https://updates.example.com/stable.json
  interval: 1h30m
  reboot: manual
  window: {days: [sat, sun], start: "22:00", end: "04:15", timezone: Asia/Tokyo}
)",
                      "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  std::map<std::string, std::string> files;
  for (const auto& f : render_site(*s, RegistryTarget::none)) files[f.path] = f.content;
  ASSERT_TRUE(files.count(kWatchSitePath));
  const std::string& text = files[kWatchSitePath];
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
  auto back = parse_site(text, kWatchSitePath);
  ASSERT_TRUE(back) << back.error().message() << "\n" << text;
  ASSERT_TRUE(back->updates);
  EXPECT_EQ(back->tags, s->tags);
  EXPECT_EQ(back->updates->channel, s->updates->channel);
  EXPECT_EQ(back->updates->interval, minutes(90));
  EXPECT_FALSE(back->updates->jitter);
  EXPECT_EQ(back->updates->reboot, RebootPolicy::manual);
  ASSERT_TRUE(back->updates->window);
  EXPECT_EQ(back->updates->window->days, s->updates->window->days);
  EXPECT_EQ(back->updates->window->start, hours(22));
  EXPECT_EQ(back->updates->window->end, hours(4) + minutes(15));
  EXPECT_EQ(back->updates->window->zone.name(), "Asia/Tokyo");

  const std::string& drop_in = files[device::kWatchTimerDropIn];
  EXPECT_NE(drop_in.find("[Timer]\nOnUnitActiveSec=\nOnUnitActiveSec=5400s\n"), std::string::npos)
      << drop_in;
  EXPECT_EQ(drop_in.find("RandomizedDelaySec"), std::string::npos) << drop_in;

  // No updates and no tags: neither file.
  auto plain = parse_site("hostname: edge-2\n", "site.yaml");
  ASSERT_TRUE(plain);
  for (const auto& f : render_site(*plain, RegistryTarget::none)) {
    EXPECT_NE(f.path, kWatchSitePath);
    EXPECT_NE(f.path, device::kWatchTimerDropIn);
  }
}

TEST(SiteUpdatesTest, DefaultsAndChannelForms) {
  auto s = parse_site("updates: {channel: /var/lib/edgeforge/channel.json}\n", "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->updates->reboot, RebootPolicy::window);
  EXPECT_FALSE(s->updates->interval);
  EXPECT_FALSE(s->updates->jitter);
  EXPECT_FALSE(s->updates->window);  // any time
  EXPECT_STREQ(reboot_policy_name(s->updates->reboot), "window");

  s = parse_site("updates:\n  reboot: manual\n  window: {start: '22:00', end: '04:00'}\n",
                 "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->updates->reboot, RebootPolicy::manual);
  EXPECT_TRUE(s->updates->channel.empty());
  EXPECT_EQ(s->updates->window->days.count(), 7u);
  EXPECT_EQ(s->updates->window->zone.name(), "UTC");

  s = parse_site("updates: {window: {days: [sat, sun]}}\n", "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->updates->window->start, s->updates->window->end);  // the whole day
  EXPECT_EQ(s->updates->window->days.to_string(), "1000001");

  for (const char* url : {"http://10.0.0.1:8080/c.json", "https://u.example.com",
                          "oci://registry.example:5000/edge/store:stable"}) {
    auto r = parse_site(std::string("updates: {channel: \"") + url + "\"}\n", "site.yaml");
    EXPECT_TRUE(r) << url;
  }
}

TEST(SiteUpdatesTest, SiteWithoutUpdatesParsesAsBefore) {
  auto s =
      parse_site("hostname: edge-1\nntp: [ntp.example.com]\ninstall: {then: none}\n", "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_FALSE(s->updates);
  EXPECT_EQ(s->hostname, "edge-1");
  EXPECT_EQ(s->install->then, "none");
  EXPECT_TRUE(render_site(*s, RegistryTarget::none).size() > 0);
}

TEST(SiteUpdatesTest, BadValuesAreOneLineErrorsNamingWhereAndTheKey) {
  struct Case {
    const char* yaml;  // the `updates:` section's body, indented
    const char* want;  // the whole start of the message, then a substring
    const char* why;
  };
  const Case cases[] = {
      {"  interval: 4x\n", "site.yaml:3:13: updates.interval: ", "unknown unit 'x'"},
      {"  interval: 0s\n", "site.yaml:3:13: updates.interval: ", "above 0s"},
      {"  interval: -5m\n", "site.yaml:3:13: updates.interval: ", "negative"},
      {"  jitter: ''\n", "site.yaml:3:11: updates.jitter: ", "empty"},
      {"  jitter: 99999999999999999999d\n", "site.yaml:3:11: updates.jitter: ", "too large"},
      {"  reboot: later\n", "site.yaml:3:11: updates.reboot: ", "immediate, window or manual"},
      {"  channel: ftp://x/y\n", "site.yaml:3:12: updates.channel: ", "http"},
      {"  channel: channel.json\n", "site.yaml:3:12: updates.channel: ", "absolute"},
      {"  channel: oci://registry.example/edge/store\n",
       "site.yaml:3:12: updates.channel: ", "oci://HOST/REPO:CHANNEL"},
      {"  chanel: https://x\n", "site.yaml:3:3: updates.chanel: ", "unknown key"},
      {"  window: {days: [mon, fri, funday]}\n",
       "site.yaml:3:29: updates.window.days[2]: ", "unknown day 'funday'"},
      {"  window: {days: [mon, mon]}\n", "site.yaml:3:24: updates.window.days[1]: ", "twice"},
      {"  window: {days: []}\n", "site.yaml:3:18: updates.window.days: ", "at least one"},
      {"  window: {days: monday}\n", "site.yaml:3:18: updates.window.days: ", "list"},
      {"  window: {start: '25:00', end: '05:00'}\n",
       "site.yaml:3:19: updates.window.start: ", "'25:00' is not a time of day"},
      {"  window: {start: '02:00', end: '5:00'}\n",
       "site.yaml:3:33: updates.window.end: ", "HH:MM"},
      {"  window: {start: '02:00', end: '24:00'}\n",
       "site.yaml:3:33: updates.window.end: ", "23:59"},
      {"  window: {start: '02:60', end: '05:00'}\n",
       "site.yaml:3:19: updates.window.start: ", "HH:MM"},
      {"  window: {start: '02:00'}\n", "site.yaml:3:11: updates.window: ", "both start and end"},
      {"  window: {timezone: Mars/Olympus}\n",
       "site.yaml:3:22: updates.window.timezone: ", "no such zone"},
      {"  window: {timezone: ../../etc/passwd}\n",
       "site.yaml:3:22: updates.window.timezone: ", "'..'"},
      {"  window: {timezone: /etc/localtime}\n",
       "site.yaml:3:22: updates.window.timezone: ", "start with '/'"},
      {"  window: {start: '02:00', end: '05:00', tz: UTC}\n",
       "site.yaml:3:42: updates.window.tz: ", "unknown key"},
      {"  - interval\n", "site.yaml:3:3: updates: ", "expected a mapping"},
  };
  for (const auto& c : cases) {
    std::string yaml = std::string("hostname: edge-1\nupdates:\n") + c.yaml;
    auto s = parse_site(yaml, "site.yaml");
    ASSERT_FALSE(s) << yaml;
    const auto& msg = s.error().message();
    EXPECT_EQ(msg.rfind(c.want, 0), 0u) << yaml << "\n-> " << msg;
    EXPECT_NE(msg.find(c.why), std::string::npos) << yaml << "\n-> " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  auto unknown_top = parse_site("update: {reboot: window}\n", "site.yaml");
  ASSERT_FALSE(unknown_top);
  EXPECT_EQ(unknown_top.error().message().rfind("site.yaml:1:1: update: unknown key", 0), 0u)
      << unknown_top.error().message();
}

TEST(SiteUpdatesTest, TimeZonesComeFromTheGivenZoneinfoDirectory) {
  test::TempDir tmp;
  tmp.write("Europe/Berlin", "not TZif");
  auto s = parse_site("updates: {window: {timezone: Europe/Berlin}}\n", "site.yaml", tmp.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("not a TZif file"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace ef::site
