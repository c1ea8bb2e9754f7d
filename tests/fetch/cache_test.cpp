#include "builder/fetch/cache.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tests/support/http_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::fetch {
namespace {

namespace fs = std::filesystem;
using test::HttpServer;
using Action = HttpServer::Action;

/// 200 KiB of deterministic, non-repeating-looking bytes.
std::string make_body() {
  std::string body(200 * 1024, '\0');
  uint32_t x = 12345;
  for (char& c : body) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return body;
}

size_t count_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return 0;
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

class CacheTest : public test::TempDirTest {
 protected:
  CacheOptions options(bool offline = false) const {
    CacheOptions o;
    o.dir = tmp / "cache";
    o.offline = offline;
    o.retries = 3;
    o.retry_backoff = std::chrono::milliseconds(1);
    return o;
  }
  fs::path part_path() const { return tmp / "cache/tmp" / (sha_ + ".part"); }

  const std::string body_ = make_body();
  const std::string sha_ = sha256_hex(body_);
  HttpServer server_{body_};
};

TEST_F(CacheTest, FreshDownloadLandsInBlobs) {
  Cache cache(options());
  EXPECT_FALSE(cache.has_blob(sha_));
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*path, tmp / "cache/blobs/sha256" / sha_);
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_TRUE(cache.has_blob(sha_));
  EXPECT_EQ(server_.requests(), 1);
  EXPECT_EQ(server_.ranges(), std::vector<std::string>{""});
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);
}

TEST_F(CacheTest, UpperCaseDigestIsAccepted) {
  std::string upper = sha_;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Cache cache(options());
  auto path = cache.fetch(server_.url(), upper);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(path->filename(), sha_);
}

TEST_F(CacheTest, SecondFetchMakesNoRequest) {
  ASSERT_TRUE(Cache(options()).fetch(server_.url(), sha_));
  Cache again(options());
  auto path = again.fetch(server_.url("/elsewhere"), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(CacheTest, InterruptedDownloadResumesWithRange) {
  server_.script({{Action::close_after, 50000}});
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.ranges(), (std::vector<std::string>{"", "bytes=50000-"}));
  EXPECT_FALSE(fs::exists(part_path()));
}

TEST_F(CacheTest, PartialDownloadIsResumedByTheNextRun) {
  server_.script({{Action::close_after, 70000}});
  CacheOptions once = options();
  once.retries = 0;
  auto failed = Cache(once).fetch(server_.url(), sha_);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Errc::network);
  EXPECT_EQ(fs::file_size(part_path()), 70000u);
  EXPECT_EQ(count_files(tmp / "cache/blobs/sha256"), 0u);

  auto path = Cache(once).fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.ranges().back(), "bytes=70000-");
}

TEST_F(CacheTest, ServerIgnoringRangeRestartsFromZero) {
  server_.script({{Action::close_after, 50000}, {Action::ignore_range}});
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.ranges(), (std::vector<std::string>{"", "bytes=50000-"}));
}

TEST_F(CacheTest, WrongRangeRestartsFromZero) {
  server_.script({{Action::close_after, 50000}, {Action::wrong_range}});
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.ranges(), (std::vector<std::string>{"", "bytes=50000-", ""}));
}

TEST_F(CacheTest, StalePartThatMismatchesIsRedownloaded) {
  // Left by an earlier run against different content: resuming gives a
  // wrong digest, so the cache starts over once.
  ASSERT_TRUE(write_file_atomic(part_path(), std::string(1000, 'x')));
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.ranges(), (std::vector<std::string>{"bytes=1000-", ""}));
}

TEST_F(CacheTest, RetriesAfterServerError) {
  server_.script({{Action::error_500}});
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(CacheTest, PersistentServerErrorGivesUp) {
  server_.script({{Action::error_500},
                  {Action::error_500},
                  {Action::error_500},
                  {Action::error_500},
                  {Action::error_500}});
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::network);
  EXPECT_NE(path.error().message().find("HTTP status 500"), std::string::npos)
      << path.error().message();
  EXPECT_NE(path.error().message().find("4 attempts"), std::string::npos);
  EXPECT_EQ(server_.requests(), 4);
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);
}

// With no network, a refused connection is not retried with back-off, and
// the next download from the same host does not try again.
TEST_F(CacheTest, RefusedConnectionIsNotRetried) {
  std::string url = test::refused_url("/a");
  Cache cache(options());
  auto path = cache.fetch(url, sha_);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::network);
  const std::string& msg = path.error().message();
  EXPECT_NE(msg.find("cannot download " + url), std::string::npos) << msg;
  EXPECT_NE(msg.find("not retried"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("attempts"), std::string::npos) << msg;

  std::string other = url.substr(0, url.size() - 2) + "/b";
  auto again = cache.fetch(other, sha256_hex("other"));
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("not tried again"), std::string::npos)
      << again.error().message();
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);
}

TEST_F(CacheTest, WrongContentIsRejected) {
  server_.script({{Action::wrong_bytes}});
  Cache cache(options());
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::checksum);
  const std::string& msg = path.error().message();
  EXPECT_NE(msg.find(server_.url()), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected sha256 " + sha_), std::string::npos) << msg;
  std::string wrong = body_;
  for (char& c : wrong) c = static_cast<char>(c ^ 0x5a);
  EXPECT_NE(msg.find("got " + sha256_hex(wrong)), std::string::npos) << msg;
  EXPECT_EQ(server_.requests(), 1);  // deterministic: no retry
  EXPECT_EQ(count_files(tmp / "cache/blobs/sha256"), 0u);
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);
}

TEST_F(CacheTest, NotFoundReportsStatusWithoutRetrying) {
  server_.script({{Action::error_404}});
  Cache cache(options());
  auto path = cache.fetch(server_.url("/missing"), sha_);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::network);
  EXPECT_NE(path.error().message().find("404"), std::string::npos) << path.error().message();
  EXPECT_NE(path.error().message().find(server_.url("/missing")), std::string::npos);
  EXPECT_EQ(server_.requests(), 1);
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);
}

TEST_F(CacheTest, OfflineMissingNamesTheUrl) {
  Cache cache(options(true));
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::offline);
  EXPECT_EQ(path.error().message(), "not in cache (offline): " + server_.url() + " sha256 " + sha_);
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(CacheTest, OfflinePresentBlobWorks) {
  ASSERT_TRUE(Cache(options()).fetch(server_.url(), sha_));
  Cache cache(options(true));
  auto path = cache.fetch(server_.url(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(CacheTest, FileUrl) {
  auto source = tmp.write("src/input.bin", "local bytes");
  Cache cache(options());
  auto path = cache.fetch("file://" + source.string(), sha256_hex("local bytes"));
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), "local bytes");

  auto missing = cache.fetch("file://" + (tmp / "src/none").string(), sha256_hex("other"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::network);
}

TEST_F(CacheTest, FileUrlResumesPartialDownload) {
  auto source = tmp.write("src/input.bin", body_);
  ASSERT_TRUE(write_file_atomic(part_path(), body_.substr(0, 4096)));
  Cache cache(options());
  auto path = cache.fetch("file://" + source.string(), sha_);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path), body_);
  EXPECT_FALSE(fs::exists(part_path()));
}

TEST_F(CacheTest, InvalidDigestIsRejected) {
  Cache cache(options());
  auto path = cache.fetch(server_.url(), "abc");
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::invalid_argument);
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(CacheTest, GetOrCreateProducesOnce) {
  Cache cache(options());
  int calls = 0;
  auto produce = [&](const fs::path& temp) -> Result<void> {
    ++calls;
    EXPECT_EQ(temp.extension(), ".tar");
    EXPECT_FALSE(fs::exists(temp));
    return write_file_atomic(temp, "tar bytes");
  };
  auto first = cache.get_or_create("abc123", produce);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, cache.keyed_path("abc123"));
  EXPECT_EQ(*first, tmp / "cache/keyed/abc123.tar");
  EXPECT_EQ(*read_file(*first), "tar bytes");
  auto second = cache.get_or_create("abc123", produce);
  ASSERT_TRUE(second);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);
}

TEST_F(CacheTest, GetOrCreateFailureLeavesNothing) {
  Cache cache(options());
  auto produce = [&](const fs::path& temp) -> Result<void> {
    EXPECT_TRUE(write_file_atomic(temp, "half"));
    return Error(Errc::subprocess, "tool failed");
  };
  auto r = cache.get_or_create("k1", produce);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "tool failed");
  EXPECT_FALSE(fs::exists(cache.keyed_path("k1")));
  EXPECT_EQ(count_files(tmp / "cache/tmp"), 0u);

  auto nothing = cache.get_or_create("k2", [](const fs::path&) -> Result<void> { return Ok{}; });
  ASSERT_FALSE(nothing);
  EXPECT_FALSE(fs::exists(cache.keyed_path("k2")));
}

TEST_F(CacheTest, GetOrCreateOfflineAndBadKeys) {
  Cache cache(options(true));
  bool called = false;
  auto produce = [&](const fs::path&) -> Result<void> {
    called = true;
    return Ok{};
  };
  auto r = cache.get_or_create("k1", produce);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::offline);
  EXPECT_FALSE(called);
  for (const char* bad : {"", "../x", "a/b", ".hidden"}) {
    auto b = Cache(options()).get_or_create(bad, produce);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().code(), Errc::invalid_argument);
  }
  EXPECT_FALSE(called);
}

/// Sets (or unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultCacheDir, FollowsXdgThenHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg/cache");
    EXPECT_EQ(default_cache_dir(), fs::path("/xdg/cache/edgeforge"));
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "relative/ignored");
    EXPECT_EQ(default_cache_dir(), fs::path("/home/someone/.cache/edgeforge"));
  }
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  EXPECT_EQ(default_cache_dir(), fs::path("/home/someone/.cache/edgeforge"));
  EXPECT_EQ(Cache(CacheOptions{}).dir(), fs::path("/home/someone/.cache/edgeforge"));
}

}  // namespace
}  // namespace ef::fetch
