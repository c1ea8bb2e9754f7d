#include "builder/fetch/mmdebstrap.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::fetch {
namespace {

namespace fs = std::filesystem;

profile::MmdebstrapRecipe recipe() {
  profile::MmdebstrapRecipe r;
  r.suite = "bookworm";
  r.variant = "minbase";
  r.architecture = "amd64";
  r.components = {"main", "contrib"};
  r.packages = {"systemd", "ca-certificates", "curl"};
  r.mirror = "http://deb.debian.org/debian";
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

TEST(MmdebstrapKey, StableAcrossReleases) {
  // Pinned: a change here silently invalidates every user's cached bases, so
  // it must come with a new format version string.
  EXPECT_EQ(mmdebstrap_cache_key(recipe(), 1700000000),
            "8f3759ba22ac30f2f70b57ddffec5493519805d66d12b4bcd836dbdba0154858");
}

TEST(MmdebstrapKey, SensitiveToEveryField) {
  const std::string base = mmdebstrap_cache_key(recipe(), 1700000000);
  EXPECT_EQ(mmdebstrap_cache_key(recipe(), 1700000000), base);
  std::vector<profile::MmdebstrapRecipe> variants(7, recipe());
  variants[0].suite = "trixie";
  variants[1].variant = "apt";
  variants[2].architecture = "arm64";
  variants[3].components = {"main"};
  variants[4].components = {"contrib", "main"};  // order reaches the image's sources
  variants[5].packages.push_back("vim");
  variants[6].mirror = "http://mirror.example/debian";
  for (size_t i = 0; i < variants.size(); ++i)
    EXPECT_NE(mmdebstrap_cache_key(variants[i], 1700000000), base) << "variant " << i;
  EXPECT_NE(mmdebstrap_cache_key(recipe(), 1700000001), base);
  EXPECT_NE(mmdebstrap_cache_key(recipe(), std::nullopt), base);
  EXPECT_NE(mmdebstrap_cache_key(recipe(), 0), mmdebstrap_cache_key(recipe(), std::nullopt));
}

TEST(MmdebstrapKey, PackageOrderAndDuplicatesDoNotMatter) {
  auto shuffled = recipe();
  shuffled.packages = {"curl", "systemd", "ca-certificates", "curl"};
  EXPECT_EQ(mmdebstrap_cache_key(shuffled, 5), mmdebstrap_cache_key(recipe(), 5));
}

TEST(MmdebstrapKey, FieldsCannotBleedIntoEachOther) {
  auto a = recipe();
  a.suite = "bookworm\nvariant=apt";
  auto b = recipe();
  b.suite = "bookworm";
  b.variant = "apt";
  EXPECT_NE(mmdebstrap_cache_key(a, 1), mmdebstrap_cache_key(b, 1));
}

TEST(MmdebstrapCommand, ExactArgv) {
  EXPECT_EQ(mmdebstrap_command(recipe(), "/c/out.tar"),
            (std::vector<std::string>{"mmdebstrap", "--variant=minbase", "--architectures=amd64",
                                      "--components=main,contrib",
                                      "--include=ca-certificates,curl,systemd", "bookworm",
                                      "/c/out.tar", "http://deb.debian.org/debian"}));
  profile::MmdebstrapRecipe bare;
  bare.suite = "bookworm";
  EXPECT_EQ(mmdebstrap_command(bare, "/c/out.tar"),
            (std::vector<std::string>{"mmdebstrap", "--variant=minbase", "--architectures=amd64",
                                      "bookworm", "/c/out.tar"}));
}

/// A fake `mmdebstrap` first on PATH that records its argv and
/// SOURCE_DATE_EPOCH and writes a small tar to its output argument.
class FakeMmdebstrapTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    if (const char* p = std::getenv("PATH")) old_path_ = p;
    ::setenv("PATH", ((tmp / "bin").string() + ":" + old_path_).c_str(), 1);
    if (const char* e = std::getenv("SOURCE_DATE_EPOCH")) old_epoch_ = e;
    fs::create_directories(tmp / "record");
    install_tool(
        "printf '%s\\n' \"$@\" > \"$rec/argv\"\n"
        "printf '%s\\n' \"${SOURCE_DATE_EPOCH-unset}\" > \"$rec/epoch\"\n"
        "echo run >> \"$rec/count\"\n"
        "for a in \"$@\"; do case \"$a\" in *.tar) out=\"$a\";; esac; done\n"
        "exec tar -cf \"$out\" -C \"$rec\" epoch\n");
  }
  void TearDown() override {
    ::setenv("PATH", old_path_.c_str(), 1);
    if (old_epoch_) {
      ::setenv("SOURCE_DATE_EPOCH", old_epoch_->c_str(), 1);
    } else {
      ::unsetenv("SOURCE_DATE_EPOCH");
    }
  }

  void install_tool(const std::string& body) {
    auto script =
        tmp.write("bin/mmdebstrap", "#!/bin/sh\nrec='" + (tmp / "record").string() + "'\n" + body);
    fs::permissions(script, fs::perms::owner_all);
  }
  CacheOptions options(bool offline = false) const {
    CacheOptions o;
    o.dir = tmp / "cache";
    o.offline = offline;
    return o;
  }
  std::string recorded(const char* name) const {
    auto r = read_file(tmp / "record" / name);
    return r ? *r : "";
  }

  std::string old_path_;
  std::optional<std::string> old_epoch_;
};

TEST_F(FakeMmdebstrapTest, RunsOnceWithExactArgvAndEpoch) {
  Cache cache(options());
  auto path = materialize_mmdebstrap(cache, recipe(), 1700000000);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*path, cache.keyed_path(mmdebstrap_cache_key(recipe(), 1700000000)));
  EXPECT_GT(fs::file_size(*path), 0u);

  auto argv = lines(recorded("argv"));
  ASSERT_EQ(argv.size(), 7u);
  EXPECT_EQ(argv[0], "--variant=minbase");
  EXPECT_EQ(argv[1], "--architectures=amd64");
  EXPECT_EQ(argv[2], "--components=main,contrib");
  EXPECT_EQ(argv[3], "--include=ca-certificates,curl,systemd");
  EXPECT_EQ(argv[4], "bookworm");
  EXPECT_EQ(fs::path(argv[5]).extension(), ".tar");
  EXPECT_EQ(argv[6], "http://deb.debian.org/debian");
  EXPECT_EQ(recorded("epoch"), "1700000000\n");

  auto again = materialize_mmdebstrap(cache, recipe(), 1700000000);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *path);
  EXPECT_EQ(recorded("count"), "run\n");
}

// The tarball's digest is recorded when mmdebstrap makes it, so no build
// on that base hashes it again.
TEST_F(FakeMmdebstrapTest, RemembersTheTarballsDigest) {
  Cache cache(options());
  auto path = materialize_mmdebstrap(cache, recipe(), 1700000000);
  ASSERT_TRUE(path) << path.error().message();
  auto identity = file_identity(*path);
  ASSERT_TRUE(identity);
  auto known = cache.digest_memo().lookup(*path, *identity);
  ASSERT_TRUE(known.has_value());
  auto actual = ef::test::run_command("sha256sum " + path->string());
  EXPECT_EQ(*known, actual.out.substr(0, 64));
}

TEST_F(FakeMmdebstrapTest, NoEpochMeansNoInheritedEpoch) {
  ::setenv("SOURCE_DATE_EPOCH", "123", 1);
  auto bare = recipe();
  bare.mirror.clear();
  bare.components.clear();
  bare.packages.clear();
  Cache cache(options());
  auto path = materialize_mmdebstrap(cache, bare, std::nullopt);
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(recorded("epoch"), "unset\n");
  auto argv = lines(recorded("argv"));
  ASSERT_EQ(argv.size(), 4u);  // no components, packages or mirror
  EXPECT_EQ(argv[2], "bookworm");
}

TEST_F(FakeMmdebstrapTest, FailureLeavesNothingAndShowsStderr) {
  install_tool(
      "for a in \"$@\"; do case \"$a\" in *.tar) out=\"$a\";; esac; done\n"
      "echo partial > \"$out\"\n"
      "echo 'I: resolving dependencies' >&2\n"
      "echo 'E: Unable to locate package nosuchpkg' >&2\n"
      "exit 2\n");
  Cache cache(options());
  auto path = materialize_mmdebstrap(cache, recipe(), 1700000000);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::subprocess);
  const std::string& msg = path.error().message();
  EXPECT_NE(msg.find("exited with status 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("E: Unable to locate package nosuchpkg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bookworm"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(cache.keyed_path(mmdebstrap_cache_key(recipe(), 1700000000))));
  EXPECT_TRUE(fs::is_empty(tmp / "cache/tmp"));
  EXPECT_TRUE(fs::is_empty(tmp / "cache/keyed"));
}

TEST_F(FakeMmdebstrapTest, MissingToolSaysHowToInstall) {
  ::setenv("PATH", (tmp / "empty").string().c_str(), 1);
  Cache cache(options());
  auto path = materialize_mmdebstrap(cache, recipe(), 1);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::not_found);
  EXPECT_NE(path.error().message().find(
                "mmdebstrap not found on PATH; install it with apt-get install mmdebstrap"),
            std::string::npos)
      << path.error().message();
}

TEST_F(FakeMmdebstrapTest, OfflineMissingNamesRecipeAndKey) {
  Cache cache(options(true));
  auto path = materialize_mmdebstrap(cache, recipe(), 1700000000);
  ASSERT_FALSE(path);
  EXPECT_EQ(path.error().code(), Errc::offline);
  const std::string& msg = path.error().message();
  EXPECT_NE(msg.find("bookworm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ca-certificates, curl, systemd"), std::string::npos) << msg;
  EXPECT_NE(msg.find(mmdebstrap_cache_key(recipe(), 1700000000)), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / "record/count"));

  Cache online(options());
  ASSERT_TRUE(materialize_mmdebstrap(online, recipe(), 1700000000));
  auto offline_hit = materialize_mmdebstrap(cache, recipe(), 1700000000);
  EXPECT_TRUE(offline_hit) << offline_hit.error().message();
}

}  // namespace
}  // namespace ef::fetch
