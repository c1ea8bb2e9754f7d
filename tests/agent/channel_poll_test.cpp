// Polling a channel from a real web server (python3's http.server): the
// conditional GET answered 304, the copy kept for it, replays and expiry
// refused with nothing changed, and the bytes a month of polling costs,
// counted by a relay in front of the server.
#include "agent/channel_poll.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "device/watch_timer.hpp"
#include "tests/channel/channel_fixture.hpp"
#include "tests/support/static_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using namespace channel::fixture;

class ChannelPollTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    key_ = make_key();
    ring_ = std::make_unique<signing::Keyring>(make_keyring(tmp.path() / "ring", {key_.get()}));
    fs::create_directories(tmp.path() / "site");
    publish(sample_doc());
  }
  /// Writes the channel file with an mtime `age` seconds after the last
  /// one's (Last-Modified has one-second grain).
  void publish(const channel::ChannelDoc& doc) {
    auto file = channel::sign_channel(doc, {key_.get()});
    ASSERT_TRUE(file) << file.error().message();
    fs::path p = tmp.path() / "site/stable.json";
    ASSERT_TRUE(write_file_atomic(p, *file));
    mtime_ += std::chrono::seconds(10);
    fs::last_write_time(p, mtime_);
  }
  PollOptions options(const std::string& url, UnixSeconds now = kNow + 60) {
    PollOptions o;
    o.url = url;
    o.keyring = ring_.get();
    o.cache = tmp.path() / "persist/channel.json";
    o.now = now;
    o.http.backoff = std::chrono::milliseconds(1);
    return o;
  }
  channel::ChannelDoc doc_version(uint64_t v) {
    auto d = sample_doc();
    d.version = v;
    return d;
  }

  std::unique_ptr<signing::SigningKey> key_;
  std::unique_ptr<signing::Keyring> ring_;
  fs::file_time_type mtime_ = fs::file_time_type::clock::now() - std::chrono::hours(1);
};

TEST_F(ChannelPollTest, AnUnchangedChannelIsAnsweredNotModifiedAndTheKeptCopyDecides) {
  test::StaticServer server(tmp.path() / "site", tmp.path() / "http.log");
  WatchState state;
  auto first = poll_channel(options(server.url("/stable.json")), state);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->fetched);
  EXPECT_EQ(first->how, "HTTP 200");
  EXPECT_FALSE(state.last_modified.empty());
  EXPECT_TRUE(fs::exists(tmp.path() / "persist/channel.json"));
  for (int i = 0; i < 3; ++i) {
    auto again = poll_channel(options(server.url("/stable.json")), state);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_FALSE(again->fetched);
    EXPECT_EQ(again->how, "HTTP 304 (not modified)");
    EXPECT_EQ(again->channel.doc.version, 3u);
  }
  EXPECT_EQ(server.count("GET /stable.json HTTP/1.1\" 200 "), 1);
  EXPECT_EQ(server.count("GET /stable.json HTTP/1.1\" 304 "), 3);

  // A new version is fetched and remembered.
  publish(doc_version(4));
  auto changed = poll_channel(options(server.url("/stable.json")), state);
  ASSERT_TRUE(changed) << changed.error().message();
  EXPECT_TRUE(changed->fetched);
  EXPECT_EQ(changed->channel.doc.version, 4u);
  EXPECT_EQ(state.seen["stable"].version, 4u);
  EXPECT_EQ(state.seen["stable"].sha256, changed->channel.signed_sha256);
}

TEST_F(ChannelPollTest, AReplayedOlderVersionIsRefusedAndNothingChanges) {
  test::StaticServer server(tmp.path() / "site", tmp.path() / "http.log");
  WatchState state;
  publish(doc_version(5));
  ASSERT_TRUE(poll_channel(options(server.url("/stable.json")), state));
  const std::string cache = *read_file(tmp.path() / "persist/channel.json");
  const std::string validator = state.last_modified;

  publish(doc_version(4));  // an attacker (or a stale mirror) serves an older, validly signed file
  auto r = poll_channel(options(server.url("/stable.json")), state);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::refused);
  EXPECT_NE(r.error().message().find("stable.json: "), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  EXPECT_EQ(state.seen["stable"].version, 5u);
  EXPECT_EQ(state.last_modified, validator);
  EXPECT_EQ(*read_file(tmp.path() / "persist/channel.json"), cache);

  // The same version number over other bytes is refused too.
  auto other = doc_version(5);
  other.paused = true;
  publish(other);
  r = poll_channel(options(server.url("/stable.json")), state);
  ASSERT_FALSE(r);
  EXPECT_EQ(state.seen["stable"].version, 5u);
}

TEST_F(ChannelPollTest, AKeptCopyPastItsExpiryIsRefusedOnANotModified) {
  test::StaticServer server(tmp.path() / "site", tmp.path() / "http.log");
  WatchState state;
  ASSERT_TRUE(poll_channel(options(server.url("/stable.json")), state));
  // The operator stopped refreshing the channel: the server keeps answering
  // 304 for the same file, which expired (a freeze attack looks the same).
  auto r = poll_channel(options(server.url("/stable.json"), kNow + 31 * 86400), state);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::refused);
  EXPECT_NE(r.error().message().find("expired"), std::string::npos) << r.error().message();
  EXPECT_EQ(server.count("\" 304 "), 1);
}

TEST_F(ChannelPollTest, ErrorsAreOneLineAndChangeNothing) {
  test::StaticServer server(tmp.path() / "site", tmp.path() / "http.log");
  WatchState state;
  ASSERT_TRUE(poll_channel(options(server.url("/stable.json")), state));
  const WatchState before = state;
  ASSERT_TRUE(write_file_atomic(tmp.path() / "site/broken.json", "{\"signatures\":[],"));
  auto stranger = make_key();
  auto signed_by_stranger = channel::sign_channel(doc_version(9), {stranger.get()});
  ASSERT_TRUE(write_file_atomic(tmp.path() / "site/stranger.json", *signed_by_stranger));
  // The operator's own, newer "stable" served where "beta" should be (a
  // mix-and-match by a mirror): the URL names the channel.
  auto stable_as_beta = channel::sign_channel(doc_version(9), {key_.get()});
  ASSERT_TRUE(write_file_atomic(tmp.path() / "site/beta.json", *stable_as_beta));
  struct Case {
    std::string url;
    Errc code;
  };
  for (const Case& c : {Case{server.url("/missing.json"), Errc::network},
                        Case{server.url("/broken.json"), Errc::bad_channel},
                        Case{server.url("/stranger.json"), Errc::untrusted},
                        Case{server.url("/beta.json"), Errc::refused},
                        Case{(tmp.path() / "site/none.json").string(), Errc::not_found}}) {
    auto r = poll_channel(options(c.url), state);
    ASSERT_FALSE(r) << c.url;
    EXPECT_EQ(r.error().code(), c.code) << c.url << ": " << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
    EXPECT_EQ(state.url, before.url);
    EXPECT_EQ(state.seen["stable"].version, 3u);
  }
}

TEST_F(ChannelPollTest, AChannelFileOnDiskIsReadAndNotKept) {
  WatchState state;
  auto r = poll_channel(options((tmp.path() / "site/stable.json").string()), state);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->how, "file");
  EXPECT_FALSE(fs::exists(tmp.path() / "persist/channel.json"));
  EXPECT_EQ(state.seen["stable"].version, 3u);
}

TEST_F(ChannelPollTest, TheWatchStateSurvivesARestartAndAMangledOneIsNamed) {
  WatchState s;
  s.seen["stable"] = {7, std::string(64, 'c'), "", 0};
  s.failed = {"1.3.0"};
  s.url = "https://u.example/stable.json";
  s.etag = "\"abc\"";
  s.until = kNow + 5;
  s.why = "waiting";
  fs::path p = tmp.path() / "persist/agent/watch.json";
  ASSERT_TRUE(save_watch_state(p, s));
  auto back = load_watch_state(p);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->seen["stable"].version, 7u);
  EXPECT_EQ(back->failed, s.failed);
  EXPECT_EQ(back->etag, s.etag);
  EXPECT_EQ(back->until, s.until);
  ASSERT_TRUE(write_file_atomic(p, "{\"formatVersion\":1}"));
  auto bad = load_watch_state(p);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find(p.string() + ": watch state is incomplete"),
            std::string::npos)
      << bad.error().message();
  auto none = load_watch_state(tmp.path() / "nothing.json");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->seen.empty());
}

// Issue 14: a month of polls at the default interval with no release costs
// at most 1 MB. A relay between the agent and the server counts every byte
// of every connection; TCP/IP framing is added per connection (a generous
// 12 packets of 66 bytes each: handshake, request, answer, close).
TEST_F(ChannelPollTest, AMonthOfPollingWithNoReleaseCostsLessThanOneMegabyte) {
  test::StaticServer server(tmp.path() / "site", tmp.path() / "http.log");
  test::CountingRelay relay(server.port(), tmp.path() / "relay.counts");
  const int64_t interval = device::kDefaultUpdateInterval.count();
  const int polls = static_cast<int>(30 * 86400 / interval);
  WatchState state;
  for (int i = 0; i < polls; ++i) {
    auto r = poll_channel(options(relay.url("/stable.json"), kNow + i * interval), state);
    ASSERT_TRUE(r) << "poll " << i << ": " << r.error().message();
  }
  // The relay writes its counts as each connection closes.
  test::CountingRelay::Counts c;
  for (int i = 0; i < 100 && (c = relay.counts()).connections < polls; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(c.connections, polls);
  const long long framing = 12 * 66 * c.connections;
  const long long total = c.to_server + c.to_client + framing;
  std::printf(
      "%d polls (every %llds): %lld bytes to the server, %lld back, %lld of framing, "
      "%lld in all\n",
      polls, static_cast<long long>(interval), c.to_server, c.to_client, framing, total);
  EXPECT_LE(total, 1'000'000);
  EXPECT_EQ(server.count("\" 304 "), polls - 1);
}

}  // namespace
}  // namespace ef::agent
