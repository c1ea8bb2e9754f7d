// Rollout gates: the rule (which wave opens, when the channel pauses), and
// the engine on SQLite and on PostgreSQL writing the channel's rollout state
// that devices then verify: a wave opened by succeeding devices, a channel
// paused by failing ones, pause and resume through the API, and a service
// stopped between committing a state and writing it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "channel/channel_store.hpp"
#include "channel/rollout.hpp"
#include "fleet/api.hpp"
#include "fleet/gates.hpp"
#include "tests/channel/channel_fixture.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using channel::ChannelDoc;
using channel::fixture::kNow;
using nlohmann::json;

/// Channel "stable" releasing 1.2.0 in three waves: canary (10 devices by
/// ID), stores (1 device), all (100 %); gated: 2 must succeed, at most 10 %
/// of at least 2 finished may fail.
ChannelDoc gated_doc() {
  ChannelDoc d = channel::fixture::sample_doc();
  std::vector<std::string> canary;
  for (int i = 0; i < 10; ++i) canary.push_back("sim-" + std::to_string(i));
  d.rollout.waves = {channel::fixture::device_wave("canary", canary),
                     channel::fixture::device_wave("stores", {"store-1"}),
                     channel::fixture::percent_wave("all", 100, 3600)};
  d.rollout.gate = channel::Gate{2, 10, 2, 6 * 3600};
  return d;
}

std::vector<WaveCount> counts(uint64_t updated, uint64_t failed, uint64_t updating = 0) {
  return {{"canary", updated + failed + updating, updated, failed, updating},
          {"stores", 0, 0, 0, 0},
          {"all", 0, 0, 0, 0}};
}

TEST(GateRuleTest, TheNextWaveOpensWhenThePreviousSucceeded) {
  ChannelDoc d = gated_doc();
  GateStep s = next_state(d, counts(1, 0, 9), kNow + 60, 7 * 86400);
  EXPECT_FALSE(s.changed) << s.what;  // 1 updated < minSucceeded 2
  s = next_state(d, counts(2, 0, 8), kNow + 60, 7 * 86400);
  ASSERT_TRUE(s.changed);
  EXPECT_EQ(s.next.opened.at("stores"), kNow + 60);
  EXPECT_FALSE(s.next.paused);
  EXPECT_EQ(s.next.expires, kNow + 60 + 7 * 86400);
  EXPECT_NE(s.what.find("opened wave \"stores\""), std::string::npos) << s.what;

  // "all" soaks an hour after "stores" opened, then needs stores' devices.
  d.state = s.next;
  d.state->version = 1;
  EXPECT_FALSE(next_state(d, counts(2, 0, 8), kNow + 120, 7 * 86400).changed);
  auto c = counts(2, 0, 8);
  c[1] = {"stores", 1, 1, 0, 0};
  EXPECT_FALSE(next_state(d, c, kNow + 120, 7 * 86400).changed);  // 1 < minSucceeded
  d.rollout.gate->min_succeeded = 1;
  EXPECT_FALSE(next_state(d, c, kNow + 60 + 3599, 7 * 86400).changed);  // soaking
  s = next_state(d, c, kNow + 60 + 3600, 7 * 86400);
  ASSERT_TRUE(s.changed);
  EXPECT_TRUE(s.next.opened.count("all"));
}

TEST(GateRuleTest, TooManyFailuresPauseButNotBeforeMinFinished) {
  ChannelDoc d = gated_doc();
  d.rollout.gate->min_finished = 3;
  EXPECT_FALSE(next_state(d, counts(0, 2), kNow + 60, 86400).changed);  // 2 finished < 3
  GateStep s = next_state(d, counts(8, 2), kNow + 60, 86400);
  ASSERT_TRUE(s.changed);
  EXPECT_TRUE(s.next.paused);
  EXPECT_TRUE(s.next.opened.empty());  // and no wave opens with it
  EXPECT_EQ(s.next.reason, "wave \"canary\": 2 of 10 finished devices failed (20 % > 10 %)");
  // 1 of 10 is within 10 %: the rollout goes on.
  s = next_state(d, counts(9, 1), kNow + 60, 86400);
  ASSERT_TRUE(s.changed);
  EXPECT_FALSE(s.next.paused);
  // A paused state stays as it is; only renewed half-way to its expiry.
  d.state = channel::RolloutState{};
  d.state->channel = "stable";
  d.state->release = d.release->version;
  d.state->paused = true;
  d.state->expires = kNow + 86400;
  EXPECT_FALSE(next_state(d, counts(10, 0), kNow + 60, 86400).changed);
  s = next_state(d, counts(10, 0), kNow + 86400 / 2 + 1, 86400);
  ASSERT_TRUE(s.changed);
  EXPECT_TRUE(s.next.paused);
}

TEST(GateRuleTest, DevicesStuckPastTheDeadlineCountAsFailedAndAResumeForgivesThePast) {
  ChannelDoc d = gated_doc();
  auto device = [](const std::string& id, const std::string& phase, UnixSeconds since) {
    Device dev;
    dev.id = id;
    dev.state = DeviceState::ready;
    dev.placement.channel = "stable";
    dev.placement.release = "1.2.0";
    dev.placement.wave = "canary";
    dev.placement.phase = phase;
    dev.phase_since = since;
    return dev;
  };
  std::vector<Device> devices = {
      device("sim-0", "updating", kNow), device("sim-1", "updating", kNow + 3600),
      device("sim-2", "failed", kNow + 10), device("sim-3", "updated", kNow + 20)};
  devices.push_back(device("sim-4", "updated", kNow));
  devices.back().placement.release = "1.1.0";  // another release: not counted
  auto c = count_waves(d, devices, kNow + 6 * 3600 + 1);
  EXPECT_EQ(c[0].devices, 4u);
  EXPECT_EQ(c[0].failed, 2u);  // sim-2, and sim-0 past the 6 h deadline
  EXPECT_EQ(c[0].updating, 1u);
  EXPECT_EQ(c[0].updated, 1u);

  d.state = channel::RolloutState{};
  d.state->resumed = kNow + 100;
  c = count_waves(d, devices, kNow + 6 * 3600 + 1);
  EXPECT_EQ(c[0].failed, 0u);  // both failures were before the resume
  EXPECT_EQ(c[0].updating, 2u);
}

// ---- the engine, on both databases -------------------------------------------

class GateEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      pg = std::make_unique<test::Postgres>(tmp / "pg");
      ASSERT_TRUE(pg->ok()) << pg->log();
      url = pg->url();
    } else {
      url = (tmp / "fleet.sqlite").string();
    }
    open_db();
    channel_key = channel::fixture::make_key();
    rollout_key = channel::fixture::make_key();
    channel::fixture::make_keyring(tmp / "keyring", {channel_key.get()});
    channel::fixture::make_keyring(tmp / "keyring/rollout", {rollout_key.get()});
    ASSERT_TRUE(write_file_atomic(tmp / "rollout.pem", *rollout_key->private_pem()));
    store = channel::open_dir_store(tmp / "channels");
    doc = gated_doc();
    doc.issued = kNow - 60;
    doc.rollout.start = kNow - 60;
    ASSERT_TRUE(channel::write_channel(*store, doc, {channel_key.get()}));
    gates.channels = {{(tmp / "channels/stable.json").string(), false, tmp / "keyring",
                       (tmp / "rollout.pem").string()}};
    auto e = GateEngine::open(*db, *registry, gates);
    ASSERT_TRUE(e) << e.error().message();
    engine = std::move(*e);
    auto token = registry->create_token({}, kNow);
    ASSERT_TRUE(token);
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) ids.push_back("sim-" + std::to_string(i));
    ASSERT_TRUE(registry->import_devices(ids, kNow));
    for (const auto& id : ids) {
      auto key = signing::SigningKey::generate(signing::Algorithm::ed25519);
      ASSERT_TRUE(registry->register_device(id, key->public_key().pem(), *token, kNow));
    }
  }
  void open_db() {
    auto d = open_database(url);
    ASSERT_TRUE(d) << d.error().message();
    db = std::move(*d);
    registry = std::make_unique<Registry>(*db);
  }
  /// Device `i` of the canary wave reports `phase` for release 1.2.0.
  void report(int i, const std::string& phase, UnixSeconds at) {
    const bool updated = phase == "updated";
    json updates = {{"channel", "stable"},
                    {"release", "1.2.0"},
                    {"wave", "canary"},
                    {"action", updated ? "nothing" : "wait"},
                    {"reason", updated ? "up-to-date" : "wave"},
                    {"error", nullptr},
                    {"failedReleases", json::array()}};
    if (phase == "rolled-back") updates["failedReleases"] = {"1.2.0"};
    json r = {{"booted", "A"},
              {"slots", {{"A", {{"version", updated ? "1.2.0" : "1.1.0"}}}}},
              {"health", {{"result", "passed"}}},
              {"updates", updates}};
    ASSERT_TRUE(registry->accept_report("sim-" + std::to_string(i), ++seq, r.dump(), at));
  }
  /// The channel file as a device verifies it.
  channel::VerifiedChannel device_view(UnixSeconds now) {
    auto bytes = store->read("stable");
    EXPECT_TRUE(bytes);
    auto ring = signing::Keyring::load(tmp / "keyring");
    auto rollout = signing::Keyring::load(tmp / "keyring/rollout");
    channel::TrustPolicy p;
    p.now = now;
    p.rollout_keyring = &*rollout;
    auto v = channel::verify_channel(*bytes, *ring, p);
    EXPECT_TRUE(v) << v.error().message();
    return std::move(*v);
  }
  int64_t states_in_db() {
    auto rows = db->query("SELECT COUNT(*) FROM rollout_states");
    return rows ? (*rows)[0].integer(0) : -1;
  }

  test::TempDir tmp;
  std::unique_ptr<test::Postgres> pg;
  std::string url;
  std::unique_ptr<Database> db;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<signing::SigningKey> channel_key, rollout_key;
  std::unique_ptr<channel::ChannelStore> store;
  ChannelDoc doc;
  GateConfig gates;
  std::unique_ptr<GateEngine> engine;
  int64_t seq = 0;
};

TEST_P(GateEngineTest, SucceedingDevicesOpenTheNextWaveInTheChannelFile) {
  channel::DeviceIdentity store_device{"store-1", {}};
  EXPECT_EQ(channel::turn_of(device_view(kNow).doc, store_device, kNow).state,
            channel::Turn::State::gated);
  report(0, "updated", kNow);
  EXPECT_TRUE(engine->run_once(kNow + 10).empty());  // one is not enough
  report(1, "updated", kNow + 20);
  auto lines = engine->run_once(kNow + 30);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("opened wave \"stores\""), std::string::npos) << lines[0];
  auto v = device_view(kNow + 40);
  ASSERT_TRUE(v.doc.state);
  EXPECT_EQ(v.doc.state->version, 1u);
  EXPECT_EQ(v.state_key_id, rollout_key->key_id());
  EXPECT_EQ(channel::turn_of(v.doc, store_device, kNow + 40).state, channel::Turn::State::go);
  EXPECT_TRUE(engine->run_once(kNow + 50).empty());  // nothing new: no new state
  EXPECT_EQ(states_in_db(), 1);

  // An operator re-signs the document: the service's word stays.
  doc.version += 1;
  ASSERT_TRUE(channel::write_channel(*store, doc, {channel_key.get()}));
  EXPECT_EQ(channel::turn_of(device_view(kNow + 60).doc, store_device, kNow + 60).state,
            channel::Turn::State::go);
}

TEST_P(GateEngineTest, TwoFailingDevicesOfTenPauseTheChannel) {
  for (int i = 0; i < 8; ++i) report(i, "updated", kNow);
  report(8, "rolled-back", kNow);
  report(9, "rolled-back", kNow);
  auto lines = engine->run_once(kNow + 60);
  ASSERT_EQ(lines.size(), 1u) << (lines.empty() ? "" : lines[0]);
  EXPECT_NE(lines[0].find("paused"), std::string::npos) << lines[0];
  auto v = device_view(kNow + 120);
  ASSERT_TRUE(v.doc.state);
  EXPECT_TRUE(v.doc.state->paused);
  EXPECT_TRUE(v.doc.state->opened.empty());
  // Every device, in every wave, now waits.
  channel::DeviceIdentity canary{"sim-9", {}}, store_device{"store-1", {}};
  EXPECT_EQ(channel::turn_of(v.doc, canary, kNow + 120).state, channel::Turn::State::paused);
  EXPECT_EQ(channel::turn_of(v.doc, store_device, kNow + 120).state, channel::Turn::State::paused);

  // Through the API: the operator resumes, the failures so far are forgiven.
  ApiConfig config;
  config.operators = {{"ops", sha256_hex("op-token")}};
  Api api(*registry, config, engine.get());
  ApiRequest r{"POST",
               "/api/v1/channels/stable/resume",
               {{"authorization", "Bearer op-token"}},
               "",
               kNow + 200};
  ApiResponse a = api.handle(r);
  ASSERT_EQ(a.status, 200) << a.body;
  v = device_view(kNow + 210);
  EXPECT_FALSE(v.doc.state->paused);
  EXPECT_EQ(v.doc.state->reason, "resumed by ops");
  // The next pass does not pause again for the same failures; the
  // canary's 8 successes open the next wave.
  auto after = engine->run_once(kNow + 220);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].find("opened wave \"stores\""), std::string::npos) << after[0];
  // And pauses again by hand, with a reason.
  r.path = "/api/v1/channels/stable/pause";
  r.headers["content-type"] = "application/json";
  r.body = R"({"reason":"store 42 reports slow boots"})";
  a = api.handle(r);
  ASSERT_EQ(a.status, 200) << a.body;
  v = device_view(kNow + 230);
  EXPECT_EQ(v.doc.state->reason, "paused by ops: store 42 reports slow boots");
  a = api.handle({"GET", "/api/v1/channels", {{"authorization", "Bearer op-token"}}, "", kNow});
  ASSERT_EQ(a.status, 200);
  json list = json::parse(a.body);
  EXPECT_EQ(list["channels"][0]["channel"], "stable");
  EXPECT_EQ(list["channels"][0]["paused"], true);
  EXPECT_EQ(list["channels"][0]["waves"][0]["devices"]["updated"], 8);
  a = api.handle(
      {"POST", "/api/v1/channels/nope/pause", {{"authorization", "Bearer op-token"}}, "", kNow});
  EXPECT_EQ(a.status, 404);
}

TEST_P(GateEngineTest, AServiceStoppedBetweenCommitAndWriteWritesTheSameStateOnce) {
  report(0, "updated", kNow);
  report(1, "updated", kNow);
  const std::string before = *store->read("stable");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Another process: its own connection, stopped right after the commit.
    setenv("EDGEFORGE_FLEET_TEST_CRASH", "after-commit", 1);
    auto d = open_database(url);
    if (!d) std::_Exit(1);
    Registry r(**d);
    auto e = GateEngine::open(**d, r, gates);
    if (!e) std::_Exit(2);
    (*e)->run_once(kNow + 30);
    std::_Exit(3);  // not reached when the hook fired
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 70);
  EXPECT_EQ(*store->read("stable"), before);  // committed, not written
  EXPECT_EQ(states_in_db(), 1);

  // The service starts again: it writes that state, and decides nothing new.
  open_db();
  auto e = GateEngine::open(*db, *registry, gates);
  ASSERT_TRUE(e) << e.error().message();
  auto lines = (*e)->run_once(kNow + 60);
  EXPECT_TRUE(lines.empty()) << lines[0];
  auto v = device_view(kNow + 60);
  ASSERT_TRUE(v.doc.state);
  EXPECT_EQ(v.doc.state->version, 1u);
  EXPECT_EQ(v.doc.state->opened.at("stores"), kNow + 30);
  EXPECT_EQ(states_in_db(), 1);
}

TEST_P(GateEngineTest, AMisconfiguredChannelSaysWhatIsWrong) {
  GateConfig bad = gates;
  bad.channels[0].rollout_key = (tmp / "nope.pem").string();
  auto e = GateEngine::open(*db, *registry, bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("rolloutKey"), std::string::npos) << e.error().message();
  // A rollout key the devices do not trust would write states they refuse.
  auto other = channel::fixture::make_key();
  ASSERT_TRUE(write_file_atomic(tmp / "other.pem", *other->private_pem()));
  bad.channels[0].rollout_key = (tmp / "other.pem").string();
  e = GateEngine::open(*db, *registry, bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("devices would refuse"), std::string::npos);
  bad.channels[0].location = (tmp / "channels/stable").string();
  e = GateEngine::open(*db, *registry, bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("NAME.json"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Engines, GateEngineTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace ef::fleet
