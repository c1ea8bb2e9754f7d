// The fleet service's rollout state beside a channel document: what a
// rollout key may sign (the state, never the document), how a gated rollout
// opens its waves and pauses, and the replays a device refuses.
#include <gtest/gtest.h>

#include "channel/channel.hpp"
#include "channel/channel_dir.hpp"
#include "channel/rollout.hpp"
#include "tests/channel/channel_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::channel {
namespace {

using namespace fixture;

class RolloutStateTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    channel_key = make_key();
    rollout_key = make_key();
    channel_ring = std::make_unique<signing::Keyring>(
        make_keyring(tmp.path() / "channel-keys", {channel_key.get()}));
    rollout_ring = std::make_unique<signing::Keyring>(
        make_keyring(tmp.path() / "channel-keys/rollout", {rollout_key.get()}));
    doc = sample_doc();
    doc.rollout.waves = {device_wave("canary", {"nuc-1", "nuc-2"}),
                         device_wave("stores", {"nuc-3"}), percent_wave("all", 100, 3600)};
    doc.rollout.gate = Gate{2, 10, 2, 6 * 3600};
  }
  RolloutState state(uint64_t version) const {
    RolloutState s;
    s.channel = "stable";
    s.release = doc.release->version;
    s.artifact_sha256 = doc.release->head->sha256;
    s.version = version;
    s.issued = kNow;
    s.expires = kNow + 7 * 86400;
    s.reason = "wave canary: 2 of 2 updated";
    return s;
  }
  std::string file(const RolloutState* s, const signing::SigningKey* state_key = nullptr) {
    auto f = sign_channel(doc, {channel_key.get()});
    EXPECT_TRUE(f) << f.error().message();
    if (!s) return *f;
    auto with = with_rollout_state(*f, *s, {state_key ? state_key : rollout_key.get()});
    EXPECT_TRUE(with) << with.error().message();
    return *with;
  }
  Result<VerifiedChannel> verify(const std::string& bytes, TrustPolicy policy = {}) {
    policy.now = kNow + 60;
    if (!policy.rollout_keyring) policy.rollout_keyring = rollout_ring.get();
    return verify_channel(bytes, *channel_ring, policy);
  }

  std::unique_ptr<signing::SigningKey> channel_key, rollout_key;
  std::unique_ptr<signing::Keyring> channel_ring, rollout_ring;
  ChannelDoc doc;
};

TEST_F(RolloutStateTest, TheGateRoundTripsAndItsLimitsAreChecked) {
  auto bytes = encode_doc(doc);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto back = parse_doc(*bytes);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->rollout.gate);
  EXPECT_EQ(back->rollout.gate->min_succeeded, 2u);
  EXPECT_EQ(back->rollout.gate->min_finished, 2u);
  doc.rollout.gate->max_failed_percent = 101;
  EXPECT_FALSE(encode_doc(doc));
  doc.rollout.gate->max_failed_percent = 10;
  doc.rollout.gate->min_finished = 0;
  auto bad = encode_doc(doc);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("rollout.gate.minFinished"), std::string::npos);
}

TEST_F(RolloutStateTest, ARolloutKeySignsTheStateButNeverTheDocument) {
  RolloutState s = state(1);
  s.opened["stores"] = kNow + 30;
  auto v = verify(file(&s));
  ASSERT_TRUE(v) << v.error().message();
  ASSERT_TRUE(v->doc.state);
  EXPECT_EQ(v->state_key_id, rollout_key->key_id());
  EXPECT_EQ(v->doc.state->opened.at("stores"), kNow + 30);

  // Without the rollout keyring the state is untrusted: the whole file is.
  TrustPolicy no_rollout_keys;
  no_rollout_keys.now = kNow + 60;
  auto untrusted = verify_channel(file(&s), *channel_ring, no_rollout_keys);
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code(), Errc::untrusted);

  // A document signed by the rollout key alone (a new release, say) is refused.
  doc.release->version = *SemVer::parse("6.6.6");
  auto forged = sign_channel(doc, {rollout_key.get()});
  ASSERT_TRUE(forged);
  auto refused = verify(*forged);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::untrusted);
}

TEST_F(RolloutStateTest, GatedWavesOpenOnlyWhenTheStateSaysSo) {
  DeviceIdentity canary{"nuc-1", {}}, store{"nuc-3", {}};
  auto v = verify(file(nullptr));
  ASSERT_TRUE(v);
  EXPECT_EQ(turn_of(v->doc, canary, kNow + 60).state, Turn::State::go);  // the first wave: by time
  EXPECT_EQ(turn_of(v->doc, store, kNow + 60).state, Turn::State::gated);
  EXPECT_NE(describe(v->doc, turn_of(v->doc, store, kNow + 60)).find("fleet service"),
            std::string::npos);

  RolloutState s = state(1);
  s.opened["stores"] = kNow + 30;
  v = verify(file(&s));
  ASSERT_TRUE(v);
  EXPECT_EQ(turn_of(v->doc, store, kNow + 60).state, Turn::State::go);
  auto view = view_rollout(v->doc, kNow + 60);
  EXPECT_TRUE(view.waves[1].open);
  EXPECT_FALSE(view.waves[2].open);
  EXPECT_EQ(view.waves[2].opens, 0);

  // The service pauses: every wave stops, and the device says who paused.
  s = state(2);
  s.opened["stores"] = kNow + 30;
  s.paused = true;
  s.reason = "wave stores: 1 of 1 finished devices failed (100 % > 10 %)";
  v = verify(file(&s));
  ASSERT_TRUE(v);
  Turn t = turn_of(v->doc, canary, kNow + 60);
  EXPECT_EQ(t.state, Turn::State::paused);
  EXPECT_NE(describe(v->doc, t).find("fleet service paused"), std::string::npos)
      << describe(v->doc, t);

  // A state the service stopped renewing stops a gated rollout.
  s = state(3);
  s.expires = kNow + 30;
  v = verify(file(&s));
  ASSERT_TRUE(v);
  std::string why;
  EXPECT_TRUE(is_paused(v->doc, kNow + 60, &why));
  EXPECT_NE(why.find("expired"), std::string::npos);
}

TEST_F(RolloutStateTest, AStateForAnotherReleaseIsIgnoredAndOldOrStrippedOnesRefused) {
  RolloutState s = state(4);
  s.paused = true;
  s.release = *SemVer::parse("1.1.0");
  auto v = verify(file(&s));
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->doc.state);
  EXPECT_NE(v->state_note.find("release 1.1.0"), std::string::npos);

  TrustPolicy seen;
  seen.last_release = "1.2.0";
  seen.last_state_version = 5;
  auto replayed = verify(file(&(s = state(4))), seen);
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error().code(), Errc::refused);
  EXPECT_NE(replayed.error().message().find("replay"), std::string::npos);
  auto stripped = verify(file(nullptr), seen);
  ASSERT_FALSE(stripped);
  EXPECT_NE(stripped.error().message().find("stripped"), std::string::npos);
  EXPECT_TRUE(verify(file(&(s = state(5))), seen));
}

TEST_F(RolloutStateTest, ReSigningTheDocumentCarriesTheStateOfTheSameReleaseOnly) {
  RolloutState s = state(1);
  s.opened["stores"] = kNow;
  std::string old = file(&s);
  doc.version = 4;  // the operator refreshes
  auto fresh = sign_channel(doc, {channel_key.get()});
  auto carried = carry_rollout_state(*fresh, old);
  ASSERT_TRUE(carried) << carried.error().message();
  auto v = verify(*carried);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->doc.version, 4u);
  ASSERT_TRUE(v->doc.state);
  EXPECT_EQ(v->doc.state->version, 1u);

  doc.version = 5;  // a new release: the old state goes
  doc.release->version = *SemVer::parse("1.3.0");
  fresh = sign_channel(doc, {channel_key.get()});
  carried = carry_rollout_state(*fresh, old);
  ASSERT_TRUE(carried);
  EXPECT_EQ(*carried, *fresh);
}

TEST(GateSpecTest, TheCommandLineGate) {
  auto g = parse_gate_spec("min-succeeded=5,max-failed=2%,min-finished=20,deadline=2h");
  ASSERT_TRUE(g && *g) << (g ? "" : g.error().message());
  EXPECT_EQ((*g)->min_succeeded, 5u);
  EXPECT_EQ((*g)->max_failed_percent, 2u);
  EXPECT_EQ((*g)->min_finished, 20u);
  EXPECT_EQ((*g)->deadline_seconds, 7200u);
  g = parse_gate_spec("max-failed=0%");
  ASSERT_TRUE(g && *g);
  EXPECT_EQ((*g)->min_succeeded, Gate{}.min_succeeded);
  g = parse_gate_spec("off");
  ASSERT_TRUE(g);
  EXPECT_FALSE(*g);
  for (const char* bad : {"max-failed=101%", "max-failed=5", "min-finished=0", "deadline=soon",
                          "min-succeeded=-1", "speed=fast"}) {
    auto r = parse_gate_spec(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find(std::string("--gate ") + bad), std::string::npos);
  }
}

}  // namespace
}  // namespace ef::channel
