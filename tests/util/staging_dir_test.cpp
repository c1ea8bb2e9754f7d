#include "util/staging_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef {
namespace {

namespace fs = std::filesystem;

TEST(StagingDir, FilesAppearTogetherOnCommit) {
  test::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "out/a.img", "old a"));
  auto stage = StagingDir::create(tmp / "out", "x-1.0");
  ASSERT_TRUE(stage) << stage.error().message();
  EXPECT_TRUE(stage->path().is_absolute());
  ASSERT_TRUE(write_file_atomic(stage->staged("a.img"), "new a"));
  ASSERT_TRUE(write_file_atomic(stage->staged("a.json"), "{}"));
  EXPECT_EQ(*read_file(tmp / "out/a.img"), "old a");
  EXPECT_FALSE(fs::exists(tmp / "out/a.json"));
  ASSERT_TRUE(stage->commit({"a.img", "a.json"}));
  EXPECT_EQ(*read_file(tmp / "out/a.img"), "new a");
  EXPECT_EQ(*read_file(tmp / "out/a.json"), "{}");
  // Nothing else is left: the staging directory is gone.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "out"), fs::directory_iterator()), 2);
}

TEST(StagingDir, ADroppedStageLeavesTheDirectoryAsItWas) {
  test::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "out/a.img", "old a"));
  {
    auto stage = StagingDir::create(tmp / "out", "x-1.0");
    ASSERT_TRUE(stage);
    ASSERT_TRUE(write_file_atomic(stage->staged("a.img"), "new a"));
    ASSERT_TRUE(write_file_atomic(stage->staged("b.img"), "new b"));
  }
  EXPECT_EQ(*read_file(tmp / "out/a.img"), "old a");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "out"), fs::directory_iterator()), 1);
  // Directories the stage made are taken back.
  {
    auto stage = StagingDir::create(tmp / "new/deeper", "x");
    ASSERT_TRUE(stage);
    EXPECT_TRUE(fs::is_directory(tmp / "new/deeper"));
  }
  EXPECT_FALSE(fs::exists(tmp / "new"));
}

TEST(StagingDir, ARelativeDirectoryGivesAbsolutePaths) {
  test::TempDir tmp;
  fs::path cwd = fs::current_path();
  fs::current_path(tmp.path());
  auto stage = StagingDir::create("out/", "x");
  fs::current_path(cwd);  // the staged paths must not depend on it any more
  ASSERT_TRUE(stage);
  EXPECT_EQ(stage->path().parent_path(), tmp / "out");
  ASSERT_TRUE(write_file_atomic(stage->staged("a"), "a"));
  ASSERT_TRUE(stage->commit({"a"}));
  EXPECT_EQ(*read_file(tmp / "out/a"), "a");
}

TEST(StagingDir, CommitChecksEveryFileBeforeMovingAny) {
  test::TempDir tmp;
  auto stage = StagingDir::create(tmp / "out", "x");
  ASSERT_TRUE(stage);
  ASSERT_TRUE(write_file_atomic(stage->staged("a"), "a"));
  EXPECT_FALSE(stage->commit({"a", "missing"}));
  EXPECT_FALSE(fs::exists(tmp / "out/a"));
}

}  // namespace
}  // namespace ef
