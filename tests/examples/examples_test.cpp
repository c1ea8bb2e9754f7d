// Every profile under examples/ must load, so a broken example fails CI.
// Profiles meant only for `extends` (no name, version or base of their own)
// are checked through the profiles that extend them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "builder/profile/profile_loader.hpp"
#include "tests/cli/cli_fixture.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

const fs::path kExamples = fs::path(EF_SOURCE_DIR) / "examples";

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every *.yaml under examples/ that says `kind: Profile`, sorted.
std::vector<fs::path> example_profiles() {
  static const std::regex kind(R"((^|\n)kind:[ \t]*Profile[ \t]*(\r?\n|$))");
  std::vector<fs::path> found;
  for (const auto& e : fs::recursive_directory_iterator(kExamples)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml" &&
        std::regex_search(read_text(e.path()), kind))
      found.push_back(e.path().lexically_normal());
  }
  std::sort(found.begin(), found.end());
  return found;
}

TEST(ExamplesTest, EveryProfileLoads) {
  auto files = example_profiles();
  ASSERT_GE(files.size(), 4u) << "examples/ should hold the shipped profiles";
  std::set<fs::path> extended;  // files some loaded profile extends
  std::vector<std::pair<fs::path, std::string>> partial;
  for (const auto& f : files) {
    auto p = profile::load_profile(f);
    if (p) {
      for (const auto& s : p->sources)
        if (s.lexically_normal() != f) extended.insert(s.lexically_normal());
      continue;
    }
    // Only a missing name, version or base is allowed, and only when another
    // example extends this file (the check below).
    EXPECT_NE(
        p.error().message().find("is required (set it here or in a profile this one extends)"),
        std::string::npos)
        << p.error().message();
    partial.emplace_back(f, p.error().message());
  }
  for (const auto& [f, message] : partial)
    EXPECT_TRUE(extended.count(f)) << f << " is incomplete and no example extends it: " << message;
}

TEST(ExamplesTest, UbuntuProfilesPinOfficialTarballs) {
  for (const char* release : {"24.04", "22.04"}) {
    auto p = profile::load_profile(kExamples / ("ubuntu-" + std::string(release)) / "profile.yaml");
    ASSERT_TRUE(p) << p.error().message();
    ASSERT_EQ(p->base.kind, profile::Base::Kind::tarball);
    const auto& ref = p->base.tarball;
    EXPECT_EQ(ref.url.rfind("https://cdimage.ubuntu.com/ubuntu-base/releases/", 0), 0u) << ref.url;
    EXPECT_NE(ref.url.find("/ubuntu-base-" + std::string(release)), std::string::npos) << ref.url;
    EXPECT_TRUE(std::regex_match(ref.sha256, std::regex("[0-9a-f]{64}"))) << ref.sha256;
  }
}

TEST(ExamplesTest, StoreEdgeComposesTheSystemProfile) {
  auto p = profile::load_profile(kExamples / "store-edge/profile.yaml");
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->sources.size(), 2u);
  EXPECT_EQ(p->sources[0], kExamples / "system/base.yaml");
  EXPECT_EQ(p->name, "store-edge");
  EXPECT_EQ(p->base.kind, profile::Base::Kind::mmdebstrap);
  EXPECT_EQ(p->base.mmdebstrap.suite, "bookworm");
  ASSERT_EQ(p->layers.size(), 3u);  // the system profile's two layers come first
  EXPECT_EQ(p->layers[0].kind, profile::Layer::Kind::directory);
  EXPECT_EQ(p->layers[0].directory, kExamples / "overlays/site");
  const auto& files = p->layers[2].files;
  auto tool = std::find_if(files.begin(), files.end(),
                           [](const auto& f) { return f.path == "/usr/local/bin/edge-hello"; });
  ASSERT_NE(tool, files.end());
  EXPECT_EQ(tool->source, kExamples / "store-edge/files/edge-hello");
  EXPECT_EQ(tool->mode, 0755u);
  EXPECT_EQ(p->output.level, 15);
}

class ExamplesCliTest : public CliTest {};

TEST_F(ExamplesCliTest, OfflineValidateListsTheUbuntuDownload) {
  std::filesystem::create_directories(tmp / "cache");
  auto profile = kExamples / "ubuntu-24.04/profile.yaml";
  auto p = profile::load_profile(profile);
  ASSERT_TRUE(p) << p.error().message();
  auto r = edgeforge("validate --offline --cache-dir cache -p " + profile.string());
  EXPECT_EQ(r.status, 1);
  auto err = last_stderr();
  EXPECT_NE(err.find("not in the cache"), std::string::npos) << err;
  EXPECT_NE(err.find(p->base.tarball.url), std::string::npos) << err;
  EXPECT_NE(err.find(p->base.tarball.sha256), std::string::npos) << err;
}

TEST_F(ExamplesCliTest, EveryCompleteProfileValidates) {
  for (const auto& f : example_profiles()) {
    if (!profile::load_profile(f)) continue;  // extends-only; EveryProfileLoads covers it
    auto r = edgeforge("validate -q --cache-dir cache -p " + f.string());
    EXPECT_EQ(r.status, 0) << f << ": " << last_stderr();
  }
}

}  // namespace
}  // namespace ef::test
