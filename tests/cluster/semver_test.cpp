#include "builder/packs/semver.hpp"

#include <gtest/gtest.h>

namespace ef::packs {
namespace {

bool in(const std::string& range, const std::string& version) {
  auto r = VersionRange::parse(range);
  auto v = Semver::parse(version);
  EXPECT_TRUE(r && v) << range << " / " << version;
  return r && v && r->contains(*v);
}

TEST(SemverTest, PrecedenceFollowsSemver) {
  auto a = *Semver::parse("1.0.0-alpha");
  auto b = *Semver::parse("1.0.0-alpha.1");
  auto c = *Semver::parse("1.0.0-beta.2");
  auto d = *Semver::parse("1.0.0-beta.11");
  auto e = *Semver::parse("1.0.0");
  EXPECT_LT(a.compare(b), 0);
  EXPECT_LT(b.compare(c), 0);
  EXPECT_LT(c.compare(d), 0);
  EXPECT_LT(d.compare(e), 0);
  EXPECT_EQ(Semver::parse("1.0.0+build")->compare(e), 0);
  EXPECT_FALSE(Semver::parse("1.0"));
  EXPECT_FALSE(Semver::parse("01.0.0"));
}

TEST(SemverTest, Ranges) {
  EXPECT_TRUE(in(">=3.26.0 <4.0.0", "3.27.1"));
  EXPECT_FALSE(in(">=3.26.0 <4.0.0", "4.0.0"));
  EXPECT_TRUE(in("^1.2.0", "1.9.9"));
  EXPECT_FALSE(in("^1.2.0", "2.0.0"));
  EXPECT_FALSE(in("^0.2.0", "0.3.0"));
  EXPECT_TRUE(in("~1.2.0", "1.2.7"));
  EXPECT_FALSE(in("~1.2.0", "1.3.0"));
  EXPECT_TRUE(in("1.2.3", "1.2.3"));
  EXPECT_TRUE(in("<1.0.0 || >=2.0.0", "2.1.0"));
  EXPECT_FALSE(in("<1.0.0 || >=2.0.0", "1.5.0"));
  EXPECT_TRUE(in("*", "0.0.1"));
  EXPECT_FALSE(VersionRange::parse(">=banana"));
}

}  // namespace
}  // namespace ef::packs
