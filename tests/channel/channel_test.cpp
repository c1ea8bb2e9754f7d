// The channel file: signing, the checks a device makes before it believes
// one (keys, expiry, replay, clock), the wave plan's rules and the URLs it
// may name. openssl and jq check the signature as docs/channels.md says.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "channel/channel.hpp"
#include "tests/channel/channel_fixture.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/canonical_json.hpp"

namespace ef::channel {
namespace {

using namespace fixture;
using nlohmann::json;

class ChannelTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    operator_key_ = make_key();
    ci_key_ = make_key();
    operator_ring_ = std::make_unique<signing::Keyring>(
        make_keyring(tmp.path() / "channel-keys", {operator_key_.get()}));
  }
  std::string sign(const ChannelDoc& d, const signing::SigningKey* key = nullptr) {
    auto file = sign_channel(d, {key ? key : operator_key_.get()});
    EXPECT_TRUE(file) << file.error().message();
    return file ? *file : "";
  }
  Result<VerifiedChannel> verify(const std::string& file, TrustPolicy policy = {}) {
    if (policy.now == 0) policy.now = kNow + 3600;
    return verify_channel(file, *operator_ring_, policy);
  }
  /// Re-signs the file's signed part after `edit` (a trusted but malformed doc).
  std::string resign_edited(const std::function<void(json&)>& edit) {
    json doc = json::parse(*encode_doc(sample_doc()));
    edit(doc);
    std::string bytes = *canonical_json(doc);
    auto sig = operator_key_->sign(bytes);
    json file = {{"signatures",
                  {{{"algorithm", "ed25519"},
                    {"keyId", operator_key_->key_id()},
                    {"signature", signing::base64_encode(*sig)}}}},
                 {"signed", doc}};
    return *canonical_json(file);
  }

  std::unique_ptr<signing::SigningKey> operator_key_, ci_key_;
  std::unique_ptr<signing::Keyring> operator_ring_;
};

TEST_F(ChannelTest, ASignedChannelReadsBackAsWritten) {
  auto v = verify(sign(sample_doc()));
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->key_id, operator_key_->key_id());
  EXPECT_EQ(*encode_doc(v->doc), *encode_doc(sample_doc()));
  EXPECT_EQ(v->doc.rollout.waves.size(), 5u);
  EXPECT_EQ(v->doc.release->head->url, "quickstart-1.2.0.efbh");
  // Same document, same bytes (Ed25519 is deterministic): a re-run of a
  // pipeline does not raise a new ETag.
  EXPECT_EQ(sign(sample_doc()), sign(sample_doc()));
}

TEST_F(ChannelTest, OpensslChecksTheSignatureAsTheDocsSay) {
  for (const char* tool : {"openssl", "jq", "base64"})
    if (!test::have_tool(tool)) GTEST_SKIP() << tool << " is not installed";
  auto root = tmp.path();
  ASSERT_TRUE(write_file_atomic(root / "stable.json", sign(sample_doc())));
  ASSERT_TRUE(write_file_atomic(root / "operator.pub", operator_key_->public_key().pem()));
  // docs/channels.md, "Checking a channel file by hand".
  std::string check = "cd " + root.string() +
                      " && jq -cj .signed stable.json > signed.bin"
                      " && jq -r '.signatures[0].signature' stable.json | base64 -d > sig.bin"
                      " && openssl pkeyutl -verify -pubin -inkey operator.pub -rawin"
                      " -in signed.bin -sigfile sig.bin";
  auto good = test::run_command(check);
  EXPECT_EQ(good.status, 0) << good.out;
  EXPECT_NE(good.out.find("Signature Verified Successfully"), std::string::npos) << good.out;
  // One flipped flag in the signed part and openssl says no too.
  auto text = *read_file(root / "stable.json");
  text.replace(text.find("\"paused\":false"), 14, "\"paused\":true ");
  text.erase(text.find("true ") + 4, 1);
  ASSERT_TRUE(write_file_atomic(root / "stable.json", text));
  EXPECT_NE(test::run_command(check).status, 0);
  auto v = verify(text);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Errc::untrusted) << v.error().message();
}

TEST_F(ChannelTest, AChannelSignedByABundleOnlyKeyIsRefused) {
  // CI may sign bundles; only the operator key moves the channel.
  auto v = verify(sign(sample_doc(), ci_key_.get()));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Errc::untrusted);
  EXPECT_NE(v.error().message().find("key not in the keyring"), std::string::npos)
      << v.error().message();
  EXPECT_NE(v.error().message().find("channel-keys"), std::string::npos) << v.error().message();
}

TEST_F(ChannelTest, ExpiredMetadataIsRefused) {
  TrustPolicy p;
  p.now = sample_doc().expires;
  auto v = verify(sign(sample_doc()), p);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Errc::refused);
  EXPECT_NE(v.error().message().find("expired at 2027-01-04T00:00:00Z"), std::string::npos)
      << v.error().message();
}

TEST_F(ChannelTest, AReplayedOlderVersionIsRefused) {
  TrustPolicy p;
  p.last_version = 4;
  auto v = verify(sign(sample_doc()), p);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Errc::refused);
  EXPECT_NE(v.error().message().find("older than version 4"), std::string::npos)
      << v.error().message();
  // The version already seen, with the same bytes, is fine (nothing new).
  auto first = verify(sign(sample_doc()));
  ASSERT_TRUE(first);
  p.last_version = 3;
  p.last_sha256 = first->signed_sha256;
  EXPECT_TRUE(verify(sign(sample_doc()), p));
  // The same number over other content is an equivocating server.
  ChannelDoc other = sample_doc();
  other.paused = true;
  auto forked = verify(sign(other), p);
  ASSERT_FALSE(forked);
  EXPECT_NE(forked.error().message().find("differs from the version 3"), std::string::npos)
      << forked.error().message();
}

TEST_F(ChannelTest, AClockFarBehindOrAheadIsSaidSo) {
  TrustPolicy p;
  p.now = kNow - 2 * 86400;  // a device whose RTC lost its battery
  auto behind = verify(sign(sample_doc()), p);
  ASSERT_FALSE(behind);
  EXPECT_NE(behind.error().message().find("device clock reads"), std::string::npos)
      << behind.error().message();
  p.now = kNow - 3600;  // within the allowed skew: accepted
  EXPECT_TRUE(verify(sign(sample_doc()), p));
  p.now = kNow + 365 * 86400;  // far ahead: the document looks expired
  auto ahead = verify(sign(sample_doc()), p);
  ASSERT_FALSE(ahead);
  EXPECT_NE(ahead.error().message().find("device clock 2027-12-05"), std::string::npos)
      << ahead.error().message();
}

TEST_F(ChannelTest, AnotherChannelsFileIsRefused) {
  TrustPolicy p;
  p.channel = "beta";
  auto v = verify(sign(sample_doc()), p);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("is not channel \"beta\""), std::string::npos);
}

struct BadPlan {
  const char* what;
  std::function<void(json&)> edit;
  const char* message;
};

TEST_F(ChannelTest, MalformedPlansAreRefusedEvenWhenSigned) {
  std::vector<BadPlan> cases = {
      {"percentages not rising", [](json& d) { d["rollout"]["waves"][3]["percent"] = 5; },
       "percentages must rise from wave to wave (5 then 5)"},
      {"percent above 100", [](json& d) { d["rollout"]["waves"][4]["percent"] = 101; },
       "has a percent above 100"},
      {"unknown key in a wave", [](json& d) { d["rollout"]["waves"][2]["rate"] = 5; },
       "unknown key \"rollout.waves[2].rate\""},
      {"unknown top-level key", [](json& d) { d["mirrors"] = json::array(); },
       "unknown key \"mirrors\""},
      {"two selectors", [](json& d) { d["rollout"]["waves"][0]["percent"] = 1; },
       "exactly one of \"tags\", \"devices\" or \"percent\""},
      {"no selector", [](json& d) { d["rollout"]["waves"][0].erase("tags"); }, "exactly one of"},
      {"cap without a fleet size", [](json& d) { d["rollout"]["fleetSize"] = 0; },
       "give \"rollout.fleetSize\" too"},
      {"a cap on a tag wave", [](json& d) { d["rollout"]["waves"][0]["maxPerHour"] = 5; },
       "a tag wave has no known size"},
      {"a name twice", [](json& d) { d["rollout"]["waves"][1]["name"] = "canary"; },
       "the name is used twice"},
      {"a bad time", [](json& d) { d["rollout"]["waves"][2]["notBefore"] = "tomorrow"; },
       "\"rollout.waves[2].notBefore\""},
      {"a bundle outside the channel",
       [](json& d) { d["release"]["bundle"]["url"] = "../other/x.efb"; },
       "must be a relative path below the channel"},
      {"an absolute URL",
       [](json& d) { d["release"]["head"]["url"] = "https://evil.example/x.efbh"; }, "holds ':'"},
      {"a release with nothing to fetch",
       [](json& d) {
         d["release"].erase("bundle");
         d["release"].erase("head");
       },
       "names neither a \"bundle\" nor a \"head\""},
      {"a newer format", [](json& d) { d["formatVersion"] = 2; },
       "channel format version 2 is not supported"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::string file = resign_edited(c.edit);
    auto v = verify(file);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code(), Errc::bad_channel) << v.error().message();
    EXPECT_NE(v.error().message().find(c.message), std::string::npos) << v.error().message();
    EXPECT_EQ(v.error().message().find('\n'), std::string::npos);
  }
  // A fraction cannot even be written canonically; a server that sends one
  // is refused before the signature is looked at.
  std::string text = sign(sample_doc());
  text.replace(text.find("\"percent\":5}"), 12, "\"percent\":5.5}");
  auto v = verify(text);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Errc::bad_channel) << v.error().message();
}

TEST_F(ChannelTest, ArtifactUrlsStayBelowTheChannel) {
  for (const char* good : {"x.efb", "bundles/quickstart-1.2.0+build.7.efb", "a/b/c.efbh"})
    EXPECT_TRUE(check_artifact_url(good)) << good;
  for (const char* bad : {"", "/etc/passwd", "../x.efb", "a/../../x", "a//b", "./x", "a/.",
                          "http://evil/x", "x?y=1", "x#frag", "a\\b", "%2e%2e/x", "a b"}) {
    auto ok = check_artifact_url(bad);
    EXPECT_FALSE(ok) << bad;
  }
  EXPECT_EQ(*resolve_artifact("https://updates.example/prod/stable.json", "b/x.efb"),
            "https://updates.example/prod/b/x.efb");
  EXPECT_EQ(*resolve_artifact("/media/usb/edgeforge/stable.json", "x.efbh"),
            "/media/usb/edgeforge/x.efbh");
  EXPECT_FALSE(resolve_artifact("https://u.example/stable.json", "../x"));
}

TEST_F(ChannelTest, EncodingRefusesWhatParsingWould) {
  ChannelDoc d = sample_doc();
  d.rollout.waves[3].percent = 3;  // below the 5 % before it
  auto bytes = encode_doc(d);
  ASSERT_FALSE(bytes);
  EXPECT_EQ(bytes.error().code(), Errc::invalid_argument);
  d = sample_doc();
  d.expires = d.issued;
  EXPECT_FALSE(encode_doc(d));
  d = sample_doc();
  d.channel = "Stable!";
  EXPECT_FALSE(encode_doc(d));
}

TEST_F(ChannelTest, BrokenFilesAreOneLineErrors) {
  std::string good = sign(sample_doc());
  for (size_t cut : {size_t{0}, size_t{1}, good.size() / 2, good.size() - 1}) {
    auto v = verify(good.substr(0, cut));
    ASSERT_FALSE(v) << cut;
    EXPECT_EQ(v.error().code(), Errc::bad_channel) << v.error().message();
  }
  EXPECT_FALSE(verify(std::string(kMaxChannelBytes + 1, ' ')));
  auto pretty = json::parse(good).dump(2);
  auto v = verify(pretty);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("canonical"), std::string::npos) << v.error().message();
}

}  // namespace
}  // namespace ef::channel
