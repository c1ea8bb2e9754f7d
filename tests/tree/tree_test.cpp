#include "builder/tree/tree.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace ef::tree {
namespace {

std::shared_ptr<Inode> file(uint32_t mode = 0644) {
  auto i = std::make_shared<Inode>();
  i->type = NodeType::regular;
  i->mode = mode;
  return i;
}

std::shared_ptr<Inode> dir(uint32_t mode = 0755) {
  auto i = std::make_shared<Inode>();
  i->type = NodeType::directory;
  i->mode = mode;
  return i;
}

std::shared_ptr<Inode> symlink(std::string target) {
  auto i = std::make_shared<Inode>();
  i->type = NodeType::symlink;
  i->mode = 0777;
  i->target = std::move(target);
  return i;
}

// One mapping serves libarchive (AE_IF*), ext2 (LINUX_S_IF*) and the
// squashfs writer: the POSIX file-type bits.
TEST(NodeTypeFromMode, MapsEveryPosixTypeAndBack) {
  EXPECT_EQ(node_type_from_mode(S_IFDIR | 0755), NodeType::directory);
  EXPECT_EQ(node_type_from_mode(S_IFREG | 04755), NodeType::regular);
  EXPECT_EQ(node_type_from_mode(S_IFLNK | 0777), NodeType::symlink);
  EXPECT_EQ(node_type_from_mode(S_IFCHR | 0666), NodeType::char_device);
  EXPECT_EQ(node_type_from_mode(S_IFBLK | 0660), NodeType::block_device);
  EXPECT_EQ(node_type_from_mode(S_IFIFO | 0644), NodeType::fifo);
  EXPECT_EQ(node_type_from_mode(S_IFSOCK | 0755), NodeType::socket);
  EXPECT_EQ(node_type_from_mode(0644), NodeType::regular);  // no type bits: a plain file
  for (NodeType t :
       {NodeType::directory, NodeType::regular, NodeType::symlink, NodeType::char_device,
        NodeType::block_device, NodeType::fifo, NodeType::socket}) {
    EXPECT_EQ(node_type_from_mode(mode_type_bits(t)), t) << node_type_name(t);
    EXPECT_EQ(mode_type_bits(t) & ~static_cast<uint32_t>(S_IFMT), 0u);
  }
}

TEST(SplitPath, NormalisesLeadingSlashAndDots) {
  EXPECT_EQ(*split_path("/etc//./passwd"), (std::vector<std::string>{"etc", "passwd"}));
  EXPECT_EQ(*split_path("./usr/bin/"), (std::vector<std::string>{"usr", "bin"}));
  EXPECT_TRUE(split_path("./")->empty());
}

TEST(SplitPath, RejectsParentComponents) {
  auto r = split_path("a/../../etc/shadow");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::hostile_entry);
  EXPECT_NE(r.error().message().find("'..'"), std::string::npos);
}

TEST(SplitPath, RejectsOverlongNames) {
  EXPECT_TRUE(split_path(std::string(255, 'n')));
  EXPECT_FALSE(split_path(std::string(256, 'n')));
}

TEST(Tree, CreatesImplicitParentsWithDefaults) {
  Tree t(1234);
  t.begin_layer();
  ASSERT_TRUE(t.put("a/b/c", file()));
  const Node* a = t.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->is_dir());
  EXPECT_EQ(a->inode->mode, 0755u);
  EXPECT_EQ(a->inode->mtime, 1234);
  EXPECT_NE(t.find("/a/b/c"), nullptr);
}

TEST(Tree, FileReplacesDirectoryAndDropsSubtree) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("d/x", file()));
  ASSERT_TRUE(t.put("d", file(0600)));
  EXPECT_EQ(t.find("d")->inode->type, NodeType::regular);
  EXPECT_EQ(t.find("d/x"), nullptr);
}

TEST(Tree, DirectoryReplacesFile) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("d", file()));
  ASSERT_TRUE(t.put("d", dir(0700)));
  EXPECT_TRUE(t.find("d")->is_dir());
  EXPECT_EQ(t.find("d")->inode->mode, 0700u);
}

TEST(Tree, DirectoryOverDirectoryKeepsChildren) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("d/x", file()));
  ASSERT_TRUE(t.put("d", dir(0750)));
  EXPECT_EQ(t.find("d")->inode->mode, 0750u);
  EXPECT_NE(t.find("d/x"), nullptr);
}

TEST(Tree, DuplicateEntryLaterWins) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("f", file(0600)));
  ASSERT_TRUE(t.put("f", file(0640)));
  EXPECT_EQ(t.find("f")->inode->mode, 0640u);
}

TEST(Tree, EntryBelowSymlinkIsRefused) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("lib", symlink("/etc")));
  auto r = t.put("lib/passwd", file());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::hostile_entry);
  EXPECT_NE(r.error().message().find("below 'lib', which is a symlink"), std::string::npos);
  EXPECT_EQ(t.find("lib")->inode->type, NodeType::symlink);
}

TEST(Tree, EntryBelowFileIsRefused) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("f", file()));
  auto r = t.put("f/g", file());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("which is a regular file"), std::string::npos);
}

TEST(Tree, RootMustStayADirectory) {
  Tree t;
  t.begin_layer();
  EXPECT_FALSE(t.put("/", file()));
  ASSERT_TRUE(t.put("./", dir(0700)));
  EXPECT_EQ(t.root().inode->mode, 0700u);
}

TEST(Tree, HardLinkSharesInode) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("bin/a", file(0755)));
  ASSERT_TRUE(t.link("bin/b", "bin/a"));
  EXPECT_EQ(t.find("bin/a")->inode, t.find("bin/b")->inode);
  EXPECT_EQ(t.stats().hardlinks, 1u);
  EXPECT_EQ(t.stats().files, 1u);
}

TEST(Tree, HardLinkToMissingOutsideOrDirectoryIsRefused) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("d/f", file()));
  auto missing = t.link("x", "nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("target not found"), std::string::npos);
  auto outside = t.link("x", "../../etc/passwd");
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message().find("points outside the image"), std::string::npos);
  auto to_dir = t.link("x", "d");
  ASSERT_FALSE(to_dir);
  EXPECT_NE(to_dir.error().message().find("target is a directory"), std::string::npos);
  auto via_link = t.link("x", "d/f/../f");
  EXPECT_FALSE(via_link);
}

TEST(Tree, WhiteoutRemovesLowerEntriesOnly) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("etc/old", file()));
  ASSERT_TRUE(t.put("etc/keep", file()));
  t.begin_layer();
  EXPECT_TRUE(*t.apply_whiteout("etc/.wh.old"));
  EXPECT_EQ(t.find("etc/old"), nullptr);
  EXPECT_NE(t.find("etc/keep"), nullptr);
  EXPECT_EQ(t.find("etc/.wh.old"), nullptr);
  // A whiteout does not hide what its own layer added before it.
  ASSERT_TRUE(t.put("etc/new", file()));
  EXPECT_TRUE(*t.apply_whiteout("etc/.wh.new"));
  EXPECT_NE(t.find("etc/new"), nullptr);
  EXPECT_FALSE(*t.apply_whiteout("etc/normal"));
}

TEST(Tree, OpaqueWhiteoutHidesAllLowerChildren) {
  Tree t;
  t.begin_layer();
  ASSERT_TRUE(t.put("opt/a", file()));
  ASSERT_TRUE(t.put("opt/sub/b", file()));
  t.begin_layer();
  ASSERT_TRUE(t.put("opt/mine", file()));
  EXPECT_TRUE(*t.apply_whiteout("opt/.wh..wh..opq"));
  EXPECT_EQ(t.find("opt/a"), nullptr);
  EXPECT_EQ(t.find("opt/sub"), nullptr);
  EXPECT_NE(t.find("opt/mine"), nullptr);
  EXPECT_NE(t.find("opt"), nullptr);
}

TEST(Tree, ClampMtimes) {
  Tree t;
  t.begin_layer();
  auto f = file();
  f->mtime = 2000;
  ASSERT_TRUE(t.put("f", f));
  auto g = file();
  g->mtime = 500;
  ASSERT_TRUE(t.put("g", g));
  t.clamp_mtimes(1000);
  EXPECT_EQ(t.find("f")->inode->mtime, 1000);
  EXPECT_EQ(t.find("g")->inode->mtime, 500);
}

}  // namespace
}  // namespace ef::tree
