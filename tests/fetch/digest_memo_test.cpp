#include "builder/fetch/digest_memo.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tests/support/temp_dir.hpp"

namespace ef::fetch {
namespace {

class DigestMemoTest : public test::TempDirTest {};

TEST_F(DigestMemoTest, RemembersUntilTheFileChanges) {
  auto file = tmp.write("base.tar", "version 1");
  DigestMemo memo(tmp / "digests");
  auto id = file_identity(file);
  ASSERT_TRUE(id);
  EXPECT_FALSE(memo.lookup(file, *id));
  memo.remember(file, *id, std::string(64, 'a'));
  EXPECT_EQ(memo.lookup(file, *id), std::string(64, 'a'));

  // Same size, mtime put back: ctime still moves, so the entry no longer matches.
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  tmp.write("base.tar", "version 2");
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  auto changed = file_identity(file);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->mtime_ns, id->mtime_ns);
  EXPECT_FALSE(memo.lookup(file, *changed));
}

TEST_F(DigestMemoTest, EntriesAreKeptPerPath) {
  auto a = tmp.write("a", "same");
  auto b = tmp.write("b", "same");
  DigestMemo memo(tmp / "digests");
  memo.remember(a, *file_identity(a), std::string(64, 'a'));
  EXPECT_FALSE(memo.lookup(b, *file_identity(b)));
}

TEST_F(DigestMemoTest, CorruptEntryIsAMiss) {
  auto file = tmp.write("f", "x");
  DigestMemo memo(tmp / "digests");
  auto id = *file_identity(file);
  memo.remember(file, id, "not-a-digest");
  EXPECT_FALSE(memo.lookup(file, id));
}

}  // namespace
}  // namespace ef::fetch
