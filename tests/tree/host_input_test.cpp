#include <gtest/gtest.h>
#include <sys/stat.h>

#include "builder/tree/inputs.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::tree {
namespace {

class HostInputTest : public test::TempDirTest {};

TEST_F(HostInputTest, DirectoryLayerIsRootOwnedWithHostModes) {
  auto f = tmp.write("site/etc/site.conf", "x=1\n");
  ::chmod(f.c_str(), 0640);
  auto script = tmp.write("site/usr/local/bin/hello", "#!/bin/sh\n");
  ::chmod(script.c_str(), 0755);
  std::filesystem::create_symlink("site.conf", tmp / "site/etc/link");
  Tree t;
  ASSERT_TRUE(
      apply_directory(t, DirectoryInput{tmp / "site", 0, 0, 42, "layer 1 (directory site)"}));
  const Inode& conf = *t.find("etc/site.conf")->inode;
  EXPECT_EQ(conf.mode, 0640u);
  EXPECT_EQ(conf.uid, 0u);
  EXPECT_EQ(conf.mtime, 42);
  EXPECT_EQ(conf.size, 4u);
  EXPECT_EQ(t.find("usr/local/bin/hello")->inode->mode, 0755u);
  EXPECT_EQ(t.find("etc/link")->inode->target, "site.conf");
}

TEST_F(HostInputTest, DirectoryLayerOwnerOverride) {
  tmp.write("d/f", "x");
  Tree t;
  ASSERT_TRUE(apply_directory(t, DirectoryInput{tmp / "d", 1000, 100, 0, "layer"}));
  EXPECT_EQ(t.find("f")->inode->uid, 1000u);
  EXPECT_EQ(t.find("f")->inode->gid, 100u);
}

TEST_F(HostInputTest, MissingDirectoryIsNotFound) {
  Tree t;
  auto r = apply_directory(t, DirectoryInput{tmp / "nope", 0, 0, 0, "layer 3 (directory nope)"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
  EXPECT_NE(r.error().message().find("layer 3 (directory nope)"), std::string::npos);
}

TEST_F(HostInputTest, FilesLayer) {
  auto src = tmp.write("tool.bin", "BIN");
  Tree t;
  std::vector<InlineFile> files{{"/etc/motd", std::string("hello\n"), {}, 0644, 0, 0},
                                {"/usr/local/bin/tool", std::nullopt, src, 0755, 0, 0}};
  ASSERT_TRUE(apply_files(t, files, 7, "layer 2 (files)"));
  EXPECT_EQ(t.find("etc/motd")->inode->size, 6u);
  EXPECT_EQ(t.find("usr/local/bin/tool")->inode->mode, 0755u);
  EXPECT_EQ(t.find("usr/local/bin/tool")->inode->size, 3u);
  EXPECT_EQ(t.find("usr/local/bin/tool")->inode->mtime, 7);
}

}  // namespace
}  // namespace ef::tree
