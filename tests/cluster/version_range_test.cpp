#include "builder/packs/version_range.hpp"

#include <gtest/gtest.h>

namespace ef::packs {
namespace {

bool in(const std::string& range, const std::string& version) {
  auto r = VersionRange::parse(range);
  auto v = SemVer::parse(version);
  EXPECT_TRUE(r && v) << range << " / " << version;
  return r && v && r->contains(*v);
}

TEST(VersionRangeTest, Ranges) {
  EXPECT_TRUE(in(">=3.26.0 <4.0.0", "3.27.1"));
  EXPECT_FALSE(in(">=3.26.0 <4.0.0", "4.0.0"));
  EXPECT_TRUE(in("^1.2.0", "1.9.9"));
  EXPECT_FALSE(in("^1.2.0", "2.0.0"));
  EXPECT_FALSE(in("^0.2.0", "0.3.0"));
  EXPECT_TRUE(in("^0.2.0", "0.2.9"));
  EXPECT_TRUE(in("~1.2.0", "1.2.7"));
  EXPECT_FALSE(in("~1.2.0", "1.3.0"));
  EXPECT_TRUE(in("1.2.3", "1.2.3"));
  EXPECT_TRUE(in("=v1.2.3", "1.2.3"));
  EXPECT_FALSE(in(">1.2.3", "1.2.3"));
  EXPECT_TRUE(in("<=1.2.3", "1.2.3"));
  EXPECT_TRUE(in("<1.0.0 || >=2.0.0", "2.1.0"));
  EXPECT_FALSE(in("<1.0.0 || >=2.0.0", "1.5.0"));
  EXPECT_TRUE(in("*", "0.0.1"));
}

TEST(VersionRangeTest, PreReleasesSortBeforeTheirRelease) {
  EXPECT_FALSE(in(">=1.0.0", "1.0.0-rc.1"));
  EXPECT_TRUE(in("<1.0.0", "1.0.0-rc.1"));
  EXPECT_TRUE(in(">=1.0.0-beta.2 <1.0.0", "1.0.0-beta.11"));
  EXPECT_TRUE(in("1.0.0", "1.0.0+build.7"));  // build metadata is ignored
}

TEST(VersionRangeTest, RejectsWhatIsNotARange) {
  auto r = VersionRange::parse(">=banana");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("'>=banana'"), std::string::npos) << r.error().message();
  EXPECT_FALSE(VersionRange::parse("^1.2"));
  EXPECT_FALSE(VersionRange::parse(">=01.0.0"));
}

}  // namespace
}  // namespace ef::packs
