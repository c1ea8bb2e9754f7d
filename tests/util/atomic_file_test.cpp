#include "util/atomic_file.hpp"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.hpp"

namespace ef {
namespace {

TEST(AtomicFile, NothingVisibleUntilCommit) {
  test::TempDir tmp;
  auto target = tmp / "sub/out.bin";
  {
    auto f = AtomicFile::create(target);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write("partial"));
    EXPECT_FALSE(std::filesystem::exists(target));
  }  // dropped without commit: temp removed, target never appears
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_TRUE(std::filesystem::is_empty(tmp / "sub"));

  ASSERT_TRUE(write_file_atomic(target, "whole"));
  EXPECT_EQ(*read_file(target), "whole");
}

}  // namespace
}  // namespace ef
