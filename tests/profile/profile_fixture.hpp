// Shared fixture for the profile tests: writes profiles and their inputs into
// a fresh temp dir and checks errors down to the exact file:line:column.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "builder/profile/profile_loader.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::profile {

// Lines 1-6 of most test profiles; a test's own lines start at line 7.
inline constexpr std::string_view kHead =
    "apiVersion: edgeforge.dev/v1alpha1\n"
    "kind: Profile\n"
    "metadata:\n"
    "  name: demo\n"
    "  version: 1.0.0\n"
    "spec:\n";

// Lines 7-8: a valid base; a test's own lines start at line 9.
inline constexpr std::string_view kBase =
    "  base:\n"
    "    tarball: {path: rootfs.tar}\n";

class ProfileTest : public test::TempDirTest {
 protected:
  void SetUp() override { tmp.write("rootfs.tar", "not really a tar"); }

  /// Writes `text` as `rel` and loads it.
  Result<Profile> load(std::string_view rel, std::string_view text) {
    return load_profile(tmp.write(rel, text));
  }
  /// Loads kHead + kBase + `body` from demo.yaml.
  Result<Profile> load_with_base(std::string_view body) {
    return load("demo.yaml", std::string(kHead) + std::string(kBase) + std::string(body));
  }
  std::string at(std::string_view rel, int line, int column) const {
    return (tmp / rel).string() + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

// Checks that `result` failed with `code` and the message `loc + ": " + rest`.
#define EXPECT_PROFILE_ERROR(result, want_code, want_loc, want_rest)                \
  do {                                                                              \
    const auto& ef_r_ = (result);                                                   \
    ASSERT_FALSE(ef_r_.ok()) << "loaded although it should have failed";            \
    EXPECT_EQ(ef_r_.error().code(), (want_code)) << ef_r_.error().message();        \
    EXPECT_EQ(ef_r_.error().message(), std::string(want_loc) + ": " + (want_rest)); \
  } while (0)

}  // namespace ef::profile
