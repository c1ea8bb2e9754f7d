#include "util/semver.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ef {
namespace {

SemVer v(const std::string& s) {
  auto r = SemVer::parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : SemVer{};
}

TEST(SemVer, ParsesAndPrintsCanonically) {
  for (const char* s : {"0.0.0", "1.4.0", "10.20.30", "1.0.0-alpha.1", "1.0.0-rc.1+build.5",
                        "1.2.3+k3s1", "18446744073709551615.0.0"}) {
    EXPECT_EQ(v(s).str(), s);
  }
  auto x = v("1.2.3-beta.11+sha.abc");
  EXPECT_EQ(x.major, 1u);
  EXPECT_EQ(x.minor, 2u);
  EXPECT_EQ(x.patch, 3u);
  EXPECT_EQ(x.prerelease, (std::vector<std::string>{"beta", "11"}));
  EXPECT_EQ(x.build, "sha.abc");
}

TEST(SemVer, RejectsWhatSemverRejects) {
  for (const char* s : {"", "1", "1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.02.3", "1.2.03", "1.2.3-",
                        "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3+a_b", " 1.2.3", "1.2.3 ",
                        "-1.2.3", "1.2.x", "18446744073709551616.0.0"}) {
    auto r = SemVer::parse(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("semantic version"), std::string::npos);
  }
}

TEST(SemVer, PrecedenceFollowsSemverOrg) {
  // The ordered example from semver.org section 11, plus numeric fields.
  const char* ordered[] = {"1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                           "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
                           "1.0.1",        "1.2.0",         "1.10.0",           "2.0.0",
                           "10.0.0"};
  for (size_t i = 0; i + 1 < std::size(ordered); ++i) {
    EXPECT_TRUE(v(ordered[i]) < v(ordered[i + 1])) << ordered[i] << " < " << ordered[i + 1];
    EXPECT_TRUE(v(ordered[i + 1]) > v(ordered[i]));
  }
  EXPECT_TRUE(v("1.0.0+a") == v("1.0.0+b"));  // build metadata has no precedence
}

}  // namespace
}  // namespace ef
