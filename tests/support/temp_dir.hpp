// A temporary directory per test that is removed when the test passes and
// kept (with its path printed) when it fails, so the data can be looked at.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string_view>

namespace ef::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view rel) const { return path_ / rel; }

  /// Writes `content` to `rel` (parents created) and returns its path.
  std::filesystem::path write(std::string_view rel, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

/// Fixture base: `tmp` is a fresh TempDir for each test.
class TempDirTest : public ::testing::Test {
 protected:
  TempDir tmp;
};

}  // namespace ef::test
