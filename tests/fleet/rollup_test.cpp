// Where a report puts a device, and the fleet's counts from the database.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleet/rollup.hpp"
#include "signing/keys.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;

/// A report as the agent sends it (agent/status_report.hpp), cut to what
/// placement reads.
json report(const std::string& running, const std::string& release, const std::string& action,
            const std::string& reason, const std::string& health = "passed") {
  json r = {{"booted", "A"},
            {"slots", {{"A", {{"version", running}, {"state", "good"}}}, {"B", {{"version", ""}}}}},
            {"health", {{"slot", "A"}, {"result", health}, {"error", nullptr}}},
            {"lastOperation", nullptr},
            {"tags", {{"region", "eu"}}}};
  if (!release.empty() || !action.empty())
    r["updates"] = {{"channel", "stable"},
                    {"release", release},
                    {"wave", "canary"},
                    {"action", action},
                    {"reason", reason},
                    {"error", nullptr},
                    {"failedReleases", json::array()}};
  return r;
}

TEST(PlacementTest, EachReportGivesOnePhase) {
  struct Case {
    json report;
    const char* phase;
  };
  json rolled = report("1.0.0", "1.1.0", "nothing", "failed-here");
  rolled["updates"]["failedReleases"] = {"1.1.0"};
  rolled["lastOperation"] = {{"kind", "health"}, {"phase", "failed"}, {"error", "k3s not ready"}};
  json failed = report("1.0.0", "1.1.0", "failed", "install-failed");
  failed["updates"]["error"] = "chunk 17: sha256 mismatch";
  const Case cases[] = {
      {report("1.1.0", "1.1.0", "nothing", "up-to-date"), "updated"},
      {report("1.1.0", "1.1.0", "nothing", "up-to-date", "pending"), "updating"},
      {report("1.0.0", "1.1.0", "staged", "reboot"), "updating"},
      {report("1.0.0", "1.1.0", "staged", "window"), "waiting-window"},
      {report("1.0.0", "1.1.0", "wait", "window"), "waiting-window"},
      {report("1.0.0", "1.1.0", "wait", "wave"), "pending"},
      {report("1.0.0", "1.1.0", "wait", "paused"), "pending"},
      {report("1.0.0", "1.1.0", "nothing", "not-in-plan"), "not-in-plan"},
      {report("1.2.0", "1.1.0", "nothing", "newer"), "updated"},
      {report("1.0.0", "", "nothing", "no-release"), "no-release"},
      {report("1.0.0", "", "", ""), "no-channel"},
      {rolled, "rolled-back"},
      {failed, "failed"},
  };
  for (const auto& c : cases) {
    Placement p = place_report(c.report.dump());
    EXPECT_EQ(p.phase, c.phase) << c.report.dump();
  }
  EXPECT_EQ(place_report("not json").phase, "unknown");
  EXPECT_EQ(place_report(rolled.dump()).error, "k3s not ready");
  EXPECT_EQ(place_report(failed.dump()).error, "chunk 17: sha256 mismatch");
  Placement p = place_report(failed.dump());
  EXPECT_EQ(p.channel, "stable");
  EXPECT_EQ(p.release, "1.1.0");
  EXPECT_EQ(p.running, "1.0.0");
  EXPECT_EQ(p.wave, "canary");
  EXPECT_EQ(p.tags.at("region"), "eu");
}

TEST(RollupTest, CountsByChannelReleaseWaveTagAndPhaseFromTheDatabase) {
  test::TempDir tmp;
  auto db = open_database((tmp / "fleet.sqlite").string());
  ASSERT_TRUE(db) << db.error().message();
  Registry registry(**db);
  const UnixSeconds t0 = 1796000000;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back("dev-" + std::to_string(i));
  ids.push_back("never-reported");
  ASSERT_TRUE(registry.import_devices(ids, t0));
  auto token = registry.create_token({}, t0);
  ASSERT_TRUE(token);
  for (const auto& id : ids) {
    auto key = signing::SigningKey::generate(signing::Algorithm::ed25519);
    ASSERT_TRUE(registry.register_device(id, key->public_key().pem(), *token, t0));
  }
  json failed = report("1.0.0", "1.1.0", "failed", "install-failed");
  failed["updates"]["error"] = "no space";
  const json reports[] = {report("1.1.0", "1.1.0", "nothing", "up-to-date"),
                          report("1.1.0", "1.1.0", "nothing", "up-to-date"),
                          report("1.0.0", "1.1.0", "wait", "wave"),
                          report("1.0.0", "1.1.0", "wait", "window"),
                          failed,
                          report("1.0.0", "", "", "")};
  for (size_t i = 0; i < 6; ++i)
    ASSERT_TRUE(registry.accept_report(ids[i], 1, reports[i].dump(), i == 5 ? t0 : t0 + 86000));
  // A phase keeps its first time while it lasts.
  ASSERT_TRUE(registry.accept_report(ids[4], 2, failed.dump(), t0 + 86300));
  auto dev4 = registry.device(ids[4]);
  EXPECT_EQ((*dev4)->phase_since, t0 + 86000);

  auto all = registry.devices();
  ASSERT_TRUE(all);
  RollupOptions o;
  o.now = t0 + 86400 + 60;  // dev-5 (t0) and never-reported are silent
  json r = rollup(*all, o);
  EXPECT_EQ(r["devices"], 7);
  EXPECT_EQ(r["byState"]["ready"], 7);
  EXPECT_EQ(r["byPhase"], (json{{"updated", 2},
                                {"pending", 1},
                                {"waiting-window", 1},
                                {"failed", 1},
                                {"no-channel", 1},
                                {"unknown", 1}}));
  EXPECT_EQ(r["silent"], 2);
  ASSERT_EQ(r["failingDevices"].size(), 1u);
  EXPECT_EQ(r["failingDevices"][0]["id"], "dev-4");
  EXPECT_EQ(r["failingDevices"][0]["error"], "no space");
  json stable;
  for (const auto& c : r["channels"])
    if (c["channel"] == "stable") stable = c;
  ASSERT_FALSE(stable.is_null()) << r.dump(2);
  EXPECT_EQ(stable["releases"][0]["release"], "1.1.0");
  EXPECT_EQ(stable["releases"][0]["devices"], 5);
  EXPECT_EQ(stable["releases"][0]["waves"][0]["wave"], "canary");
  EXPECT_EQ(stable["releases"][0]["byPhase"]["updated"], 2);
  EXPECT_EQ(stable["releases"][0]["waves"][0]["running"], (json{{"1.1.0", 2}, {"1.0.0", 3}}));
  EXPECT_EQ(r["byTag"]["region=eu"]["updated"], 2);
}

TEST(MigrationTest, AVersion1DatabaseIsUpgradedInPlaceKeepingItsDevices) {
  test::TempDir tmp;
  const std::string file = (tmp / "fleet.sqlite").string();
  {
    // Made as version 1 was: today's schema without version 2's changes.
    auto db = open_database(file);
    ASSERT_TRUE(db) << db.error().message();
    for (const char* sql :
         {"DROP INDEX devices_rollout", "DROP TABLE rollout_states",
          "ALTER TABLE devices DROP COLUMN channel",
          "ALTER TABLE devices DROP COLUMN release_version",
          "ALTER TABLE devices DROP COLUMN running", "ALTER TABLE devices DROP COLUMN wave",
          "ALTER TABLE devices DROP COLUMN phase", "ALTER TABLE devices DROP COLUMN phase_since",
          "ALTER TABLE devices DROP COLUMN error", "ALTER TABLE devices DROP COLUMN tags",
          "UPDATE schema_version SET version = 1",
          "INSERT INTO devices (id, state, created) VALUES ('old-1', 'provisioned', 1)"})
      ASSERT_TRUE((*db)->query(sql)) << sql;
  }
  auto db = open_database(file);
  ASSERT_TRUE(db) << db.error().message();
  auto v = (*db)->query("SELECT version FROM schema_version");
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)[0].integer(0), 2);
  Registry registry(**db);
  auto d = registry.device("old-1");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->state, DeviceState::provisioned);
  EXPECT_EQ((*d)->placement.phase, "unknown");
}

}  // namespace
}  // namespace ef::fleet
