// edgeforge-agent watch and reboot as a device runs them, on a device made of
// files: a signed channel in a directory (the way a USB stick or a mounted
// share holds one), real bundles and bundle heads, the site file's policy,
// pre-reboot hooks and a reboot command that leaves a mark instead of
// rebooting the test machine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/channel_poll.hpp"
#include "agent/state.hpp"
#include "builder/publish/publish.hpp"
#include "channel/channel.hpp"
#include "channel/oci_channel.hpp"
#include "signing/oci_store.hpp"
#include "tests/agent/device_fixture.hpp"
#include "tests/channel/channel_fixture.hpp"
#include "tests/support/registry.hpp"
#include "util/sha256.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_device::DeviceFixture;
using test_device::kSlotBytes;

constexpr const char* kAt = "2026-12-05T01:00:00Z";  // channel::fixture::kNow + 1 h

class WatchCommandTest : public DeviceFixture {
 protected:
  void SetUp() override {
    DeviceFixture::SetUp();
    fs::create_directories(tmp / "chan");
    fs::create_directories(tmp / "hooks");
    write_site("immediate");
  }

  void write_site(const std::string& reboot, const std::string& extra = "") {
    tmp.write("site.yaml", "updates:\n  channel: " + (tmp / "chan/stable.json").string() +
                               "\n  reboot: " + reboot + "\n" + extra);
  }
  void hook(const std::string& name, const std::string& script) {
    tmp.write("hooks/" + name, "#!/bin/sh\n" + script + "\n");
    fs::permissions(tmp / "hooks" / name, fs::perms::owner_all);
  }

  channel::Artifact artifact(const fs::path& file) {
    auto bytes = read_file(file);
    EXPECT_TRUE(bytes);
    return {file.filename().string(), sha256_hex(*bytes), bytes->size()};
  }
  /// A channel naming edge `version` with `artifact`, one wave of `percent`.
  channel::ChannelDoc doc(const std::string& version, channel::Artifact a, bool head,
                          uint32_t percent = 100) {
    channel::ChannelDoc d;
    d.channel = "stable";
    d.version = ++metadata_version_;
    d.issued = channel::fixture::kNow;
    d.expires = channel::fixture::kNow + 30 * 86400;
    channel::Release r;
    r.product = "edge";
    r.compatible = "edge-nuc";
    r.version = *SemVer::parse(version);
    (head ? r.head : r.bundle) = std::move(a);
    d.release = r;
    d.rollout.start = channel::fixture::kNow;
    d.rollout.waves = {channel::fixture::percent_wave("all", percent)};
    return d;
  }
  void publish(const channel::ChannelDoc& d, const signing::SigningKey* signer = nullptr,
               const fs::path& dir = "") {
    auto file = channel::sign_channel(d, {signer ? signer : &*key});
    ASSERT_TRUE(file) << file.error().message();
    ASSERT_TRUE(write_file_atomic((dir.empty() ? tmp / "chan" : dir) / "stable.json", *file));
  }
  /// v2 as a full bundle in the channel directory.
  void release_bundle(const std::string& version = "2.0.0") {
    fs::path b = bundle(version);
    fs::copy_file(b, tmp / "chan" / ("edge-" + version + ".efb"),
                  fs::copy_options::overwrite_existing);
    publish(doc(version, artifact(tmp / "chan" / ("edge-" + version + ".efb")), false));
  }

  std::string device_args() {
    return " --config " + paths.config.string() + " --esp " + paths.esp.string() + " --slot-a " +
           paths.slot_a.string() + " --slot-b " + paths.slot_b.string() + " --state " +
           paths.state.string() + " --cmdline " + paths.cmdline.string() + " --lock " +
           paths.lock.string();
  }
  test::CommandOutput agent(const std::string& command, const std::string& args = "") {
    std::string reboot;
    if (command != "status")
      reboot = " --hooks " + (tmp / "hooks").string() + " --reboot-command 'echo reboot >> " +
               (tmp / "marks").string() + "'";
    if (command == "watch")
      reboot += " --wake-command 'echo $EDGEFORGE_WAKE_AT $EDGEFORGE_WAKE_IN >> " +
                (tmp / "wakes").string() + "'";
    return test::run_command(std::string(EF_AGENT_BIN) + " " + command + device_args() + reboot +
                             " " + args + " 2>" + (tmp / "stderr").string());
  }
  test::CommandOutput watch(const std::string& args = "", const std::string& at = kAt) {
    return agent("watch", "--json --site " + (tmp / "site.yaml").string() + " --channel-keyring " +
                              (tmp / "ring").string() + " --device-id store-0042 --now " + at +
                              " " + args);
  }
  json parse(const test::CommandOutput& r) {
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << stderr_text();
    return j;
  }
  std::string text_of(const fs::path& p) {
    auto t = read_file(p);
    return t ? *t : "";
  }
  std::string stderr_text() { return text_of(tmp / "stderr"); }
  std::string marks() { return text_of(tmp / "marks"); }
  bool slot_b_untouched() { return *read_file(tmp / "slot-b") == std::string(kSlotBytes, '\0'); }

  uint64_t metadata_version_ = 0;
};

TEST_F(WatchCommandTest, UpgradesWhenItsTurnComesThenRunsTheHooksAndReboots) {
  release_bundle();
  hook("10-drain", "echo \"hook $EDGEFORGE_REBOOT_REASON\" >> " + (tmp / "marks").string());
  auto r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  json j = parse(r);
  EXPECT_EQ(j["channel"], "stable");
  EXPECT_EQ(j["release"], "2.0.0");
  EXPECT_EQ(j["installed"]["slot"], "B");
  EXPECT_EQ(j["reboot"], "now");
  EXPECT_EQ(marks(), "hook release 2.0.0 in slot B\nreboot\n") << "the hooks run before the reboot";
  AgentState s = state();
  EXPECT_EQ(s.b.health, SlotHealth::trial);
  EXPECT_EQ(s.b.version, "2.0.0");
  auto ws = load_watch_state(tmp / "persist/agent/watch.json");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->seen["stable"].version, 1u);
  EXPECT_EQ(ws->action, "rebooting");
}

TEST_F(WatchCommandTest, ManualRebootStagesTheSlotAndWaitsForTheOperator) {
  write_site("manual");
  release_bundle();
  auto r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  json j = parse(r);
  EXPECT_EQ(j["installed"]["version"], "2.0.0");
  EXPECT_EQ(j["reboot"], "waiting");
  EXPECT_NE(j["why"].get<std::string>().find("edgeforge-agent reboot"), std::string::npos) << j;
  EXPECT_EQ(marks(), "");
  const std::string slot_b = *read_file(tmp / "slot-b");

  // The next poll leaves the staged slot as it is.
  r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  j = parse(r);
  EXPECT_EQ(j["action"], "staged") << j;
  EXPECT_TRUE(j["installed"].is_null());
  EXPECT_EQ(*read_file(tmp / "slot-b"), slot_b);

  // A hook that fails stops the operator's reboot, with one line.
  hook("20-lease", "echo another node holds the reboot lease >&2; exit 3");
  r = agent("reboot");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(stderr_text().find("20-lease exited with status 3; the reboot is postponed"),
            std::string::npos)
      << stderr_text();
  EXPECT_EQ(marks(), "");
  fs::remove(tmp / "hooks/20-lease");
  r = agent("reboot");
  ASSERT_EQ(r.status, 0) << stderr_text();
  EXPECT_NE(r.out.find("slot B holds edge 2.0.0 and boots next"), std::string::npos) << r.out;
  EXPECT_EQ(marks(), "reboot\n");
}

TEST_F(WatchCommandTest, AReleaseThatFailedHereIsNotTriedAgain) {
  release_bundle();
  ASSERT_EQ(watch().status, 0) << stderr_text();
  // The new slot failed its health check: the boot check marked it bad and
  // the device went back to A.
  AgentState s = state();
  s.b.health = SlotHealth::bad;
  ASSERT_TRUE(save_state(paths.state, s));
  const std::string slot_b = *read_file(tmp / "slot-b");
  auto r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  json j = parse(r);
  EXPECT_EQ(j["action"], "nothing");
  EXPECT_NE(j["why"].get<std::string>().find("2.0.0 failed its health check on this device"),
            std::string::npos)
      << j;
  EXPECT_EQ(*read_file(tmp / "slot-b"), slot_b);
  // A newer release is installed again.
  release_bundle("2.0.1");
  r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  EXPECT_EQ(parse(r)["installed"]["version"], "2.0.1");
}

TEST_F(WatchCommandTest, WavesAndWindowsHoldTheDeviceBack) {
  fs::path b = bundle("2.0.0");
  fs::copy_file(b, tmp / "chan/edge-2.0.0.efb");
  publish(doc("2.0.0", artifact(tmp / "chan/edge-2.0.0.efb"), false, 0));
  json j = parse(watch());
  EXPECT_EQ(j["action"], "nothing") << j;
  EXPECT_NE(j["why"].get<std::string>().find("no wave"), std::string::npos) << j;

  publish(doc("2.0.0", artifact(tmp / "chan/edge-2.0.0.efb"), false, 100));
  write_site("window", "  window: {start: \"03:00\", end: \"04:00\", timezone: UTC}\n");
  j = parse(watch());
  EXPECT_EQ(j["action"], "wait") << j;
  EXPECT_EQ(j["until"], "2026-12-05T03:00:00Z");
  EXPECT_TRUE(slot_b_untouched());
  // It looks again when the window opens (in 2 h), not only at the timer's next poll.
  EXPECT_EQ(text_of(tmp / "wakes"), std::to_string(channel::fixture::kNow + 3 * 3600) + " 7200\n");
  // status says what the last poll decided, and why.
  json st = parse(agent("status", "--json"));
  EXPECT_EQ(st["updates"]["channel"], "stable") << st;
  EXPECT_EQ(st["updates"]["metadataVersion"], 2);
  EXPECT_EQ(st["updates"]["release"], "2.0.0");
  EXPECT_EQ(st["updates"]["action"], "wait");
  EXPECT_NE(st["updates"]["why"].get<std::string>().find("outside the maintenance window"),
            std::string::npos);
  EXPECT_EQ(st["updates"]["until"], "2026-12-05T03:00:00Z");
  auto text = agent("status");
  EXPECT_NE(text.out.find("channel: stable (metadata version 2)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("update: wait: "), std::string::npos) << text.out;
  j = parse(watch("", "2026-12-05T03:30:00Z"));
  EXPECT_EQ(j["installed"]["version"], "2.0.0") << j;
  EXPECT_EQ(marks(), "reboot\n");
}

TEST_F(WatchCommandTest, BadChannelsAndArtifactsLeaveTheDeviceUnchanged) {
  // Published for delta updates: a head and its chunk store.
  fs::path b = bundle("2.0.0");
  ASSERT_TRUE(publish::publish_to_dir(b, tmp / "chan"));
  const std::string head = publish::head_file_name("edge", "2.0.0");
  channel::Artifact good_head = artifact(tmp / "chan" / head);
  fs::copy_file(bundle("3.0.0"), tmp / "chan/edge-3.0.0.efb");
  auto stranger_key = channel::fixture::make_key();

  struct Case {
    std::string name;
    std::function<void()> setup;
    std::string at, error;
    std::string args = "";
  };
  std::vector<Case> cases = {
      {"head sha256",
       [&] {
         auto a = good_head;
         a.sha256 = std::string(64, '0');
         publish(doc("2.0.0", a, true));
       },
       kAt, "not the " + std::to_string(good_head.size) + " bytes with sha256 0000"},
      {"head size",
       [&] {
         auto a = good_head;
         a.size += 1;
         publish(doc("2.0.0", a, true));
       },
       kAt, "the channel names; nothing else of the release was fetched"},
      {"bundle of another release",
       [&] {
         auto a = artifact(tmp / "chan/edge-3.0.0.efb");
         publish(doc("2.0.0", a, false));
       },
       kAt, "the bundle holds edge 3.0.0 (edge-nuc), not the channel's release edge 2.0.0"},
      {"expired", [&] { publish(doc("2.0.0", good_head, true)); }, "2027-01-10T00:00:00Z",
       "expired"},
      {"signed by a key the channel keyring lacks",
       [&] { publish(doc("2.0.0", good_head, true), stranger_key.get()); }, kAt,
       "no valid signature by a trusted key"},
      {"clock far behind", [&] { publish(doc("2.0.0", good_head, true)); }, "2026-11-01T00:00:00Z",
       "clock"},
      {"no marker on the media", [] {}, kAt, "no channel marker",
       "--from " + (tmp / "hooks").string()},
  };
  for (const Case& c : cases) {
    c.setup();
    auto r = watch(c.args, c.at);
    EXPECT_EQ(r.status, 1) << c.name;
    std::string err = stderr_text();
    std::string last = err.substr(err.rfind("edgeforge-agent: error:") == std::string::npos
                                      ? 0
                                      : err.rfind("edgeforge-agent: error:"));
    EXPECT_NE(last.find(c.error), std::string::npos) << c.name << ": " << err;
    EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << c.name << ": " << last;
    EXPECT_TRUE(slot_b_untouched()) << c.name;
    EXPECT_EQ(state().b.health, SlotHealth::empty) << c.name;
    EXPECT_EQ(marks(), "") << c.name;
  }
  // The good head then installs, fetching chunks from the store.
  publish(doc("2.0.0", good_head, true));
  auto r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  json j = parse(r);
  EXPECT_EQ(j["installed"]["delta"], true) << j;
}

TEST_F(WatchCommandTest, AnAirGappedSiteAppliesAReleaseFromMedia) {
  fs::path media = tmp / "usb";
  fs::create_directories(media);
  fs::path b = bundle("2.0.0");
  ASSERT_TRUE(publish::publish_to_dir(b, media));
  const std::string head = publish::head_file_name("edge", "2.0.0");
  publish(doc("2.0.0", artifact(media / head), true), nullptr, media);
  tmp.write("usb/edgeforge-channel", "stable.json\n");
  auto r = watch("--from " + media.string());
  ASSERT_EQ(r.status, 0) << stderr_text();
  json j = parse(r);
  EXPECT_EQ(j["source"], "file");
  EXPECT_EQ(j["installed"]["version"], "2.0.0") << j;
  EXPECT_EQ(state().b.version, "2.0.0");
}

// A channel kept in an OCI registry (Debian's docker-registry on 127.0.0.1)
// beside the head `publish --to oci://` pushed: the device reads the tag,
// installs from the chunk blobs, and a poll with nothing new costs one
// manifest request the registry answers 304.
TEST_F(WatchCommandTest, FollowsAChannelKeptInAnOciRegistry) {
  test::Registry registry(tmp / "registry");
  ASSERT_TRUE(registry.ok()) << *read_file(registry.log());
  auto ref = parse_oci_reference("oci://" + registry.host() + "/edge/store");
  ASSERT_TRUE(ref);
  OciRegistry repo(*ref, {}, {});
  ASSERT_TRUE(publish::publish_to_oci(bundle("2.0.0"), repo));
  auto head = signing::fetch_oci_head(repo, "2.0.0", 64 << 20);
  ASSERT_TRUE(head) << head.error().message();
  auto put = [&](const channel::ChannelDoc& d) {
    auto file = channel::sign_channel(d, {&*key});
    ASSERT_TRUE(file);
    ASSERT_TRUE(channel::write_oci_channel(repo, "stable", *file));
  };
  put(doc("2.0.0", {"2.0.0", sha256_hex(*head), head->size()}, true, 0));
  const std::string url = ref->str() + ":stable";
  tmp.write("site.yaml", "updates:\n  channel: " + url + "\n  reboot: manual\n");

  // A 0 % wave: read, nothing installed.
  json j = parse(watch());
  EXPECT_EQ(j["source"], "OCI manifest and blob") << j;
  EXPECT_EQ(j["action"], "nothing") << j;
  EXPECT_EQ(j["why"], "no wave of the rollout holds this device yet") << j;
  j = parse(watch());
  EXPECT_EQ(j["source"], "OCI 304 (not modified)") << j;
  EXPECT_EQ(registry.requests("GET", "/manifests/stable", 304), 1);
  EXPECT_TRUE(slot_b_untouched());

  // The wave opened: installed from the registry's chunk blobs.
  put(doc("2.0.0", {"2.0.0", sha256_hex(*head), head->size()}, true, 100));
  auto r = watch();
  ASSERT_EQ(r.status, 0) << stderr_text();
  j = parse(r);
  EXPECT_EQ(j["metadataVersion"], 2);
  EXPECT_EQ(j["installed"]["version"], "2.0.0") << j;
  EXPECT_EQ(j["installed"]["delta"], true) << j;
  EXPECT_EQ(state().b.version, "2.0.0");

  // A channel naming a tag whose head is not the one it names: refused
  // before any chunk; a channel file under another channel's tag: refused.
  put(doc("3.0.0", {"2.0.0", sha256_hex("other"), head->size()}, true));
  std::string before = *read_file(tmp / "slot-b");
  r = watch();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(stderr_text().find("not the " + std::to_string(head->size()) + " bytes with sha256"),
            std::string::npos)
      << stderr_text();
  auto beta = channel::sign_channel(doc("3.0.0", {"2.0.0", sha256_hex(*head), head->size()}, true),
                                    {&*key});
  ASSERT_TRUE(beta);
  ASSERT_TRUE(channel::write_oci_channel(repo, "beta", *beta));
  r = watch("--channel " + ref->str() + ":beta");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(stderr_text().find("\"beta\""), std::string::npos) << stderr_text();
  EXPECT_EQ(*read_file(tmp / "slot-b"), before);
}

}  // namespace
}  // namespace ef::agent
