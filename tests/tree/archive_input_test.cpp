#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <fstream>

#include "builder/tree/inputs.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::tree {
namespace {

using test::TarEntry;

class ArchiveInputTest : public test::TempDirTest {
 protected:
  SourceInfo tar(const std::string& name, const std::vector<TarEntry>& entries,
                 test::TarCompression compression = test::TarCompression::none) {
    auto path = tmp / name;
    test::write_tar(path, entries, compression);
    SourceInfo src;
    src.path = path.string();
    src.label = "layer 1 (tarball " + name + ")";
    return src;
  }
};

TEST_F(ArchiveInputTest, PreservesMetadataOfEveryEntryType) {
  auto setuid = TarEntry::file("usr/bin/passwd", "pw", 04755);
  setuid.uid = 0;
  setuid.gid = 0;
  auto owned = TarEntry::file("home/user/notes.txt", "hello", 0600);
  owned.uid = 1000;
  owned.gid = 1001;
  owned.mtime = 1600000000;
  auto sticky = TarEntry::dir("tmp", 01777);
  auto caps = TarEntry::file("usr/bin/ping", "ping", 0755);
  caps.xattrs["security.capability"] = std::string("\x01\x00\x00\x02\x00\x20\x00\x00", 8);
  caps.xattrs["user.comment"] = "hi";
  TarEntry chr;
  chr.type = TarEntry::Type::chr;
  chr.path = "dev/null";
  chr.mode = 0666;
  chr.rdev_major = 1;
  chr.rdev_minor = 3;
  TarEntry fifo;
  fifo.type = TarEntry::Type::fifo;
  fifo.path = "run/fifo";
  auto sparse = TarEntry::file("var/sparse.img", "tail", 0644);
  sparse.sparse_offset = 1 << 20;
  std::string long_name = "usr/share/" + std::string(200, 'L') + "/" + std::string(255, 'x');
  auto src =
      tar("base.tar",
          {setuid, owned, sticky, caps, chr, fifo, sparse, TarEntry::symlink("bin", "usr/bin"),
           TarEntry::hardlink("usr/bin/chfn", "usr/bin/passwd"),
           TarEntry::file("etc/größe-📦", "utf8"), TarEntry::file(long_name, "long")});
  Tree t;
  ASSERT_TRUE(apply_archive(t, src));

  EXPECT_EQ(t.find("usr/bin/passwd")->inode->mode, 04755u);
  const Inode& notes = *t.find("home/user/notes.txt")->inode;
  EXPECT_EQ(notes.uid, 1000u);
  EXPECT_EQ(notes.gid, 1001u);
  EXPECT_EQ(notes.mtime, 1600000000);
  EXPECT_EQ(notes.size, 5u);
  EXPECT_EQ(t.find("tmp")->inode->mode, 01777u);
  EXPECT_EQ(t.find("usr/bin/ping")->inode->xattrs.at("security.capability").size(), 8u);
  EXPECT_EQ(t.find("usr/bin/ping")->inode->xattrs.at("user.comment"), "hi");
  EXPECT_EQ(t.find("dev/null")->inode->type, NodeType::char_device);
  EXPECT_EQ(major(t.find("dev/null")->inode->rdev), 1u);
  EXPECT_EQ(minor(t.find("dev/null")->inode->rdev), 3u);
  EXPECT_EQ(t.find("run/fifo")->inode->type, NodeType::fifo);
  EXPECT_EQ(t.find("var/sparse.img")->inode->size, (1u << 20) + 4);
  EXPECT_EQ(t.find("bin")->inode->target, "usr/bin");
  EXPECT_EQ(t.find("usr/bin/chfn")->inode, t.find("usr/bin/passwd")->inode);
  EXPECT_NE(t.find("etc/größe-📦"), nullptr);
  EXPECT_NE(t.find(long_name), nullptr);
}

TEST_F(ArchiveInputTest, ReadsCompressedArchives) {
  for (auto c :
       {test::TarCompression::gzip, test::TarCompression::zstd, test::TarCompression::xz}) {
    Tree t;
    ASSERT_TRUE(apply_archive(t, tar("c.tar", {TarEntry::file("a", "x")}, c)));
    EXPECT_NE(t.find("a"), nullptr);
  }
}

TEST_F(ArchiveInputTest, AbsolutePathsLandInsideTheImage) {
  Tree t;
  ASSERT_TRUE(apply_archive(t, tar("abs.tar", {TarEntry::file("/etc/hostname", "edge")})));
  EXPECT_NE(t.find("etc/hostname"), nullptr);
}

TEST_F(ArchiveInputTest, ParentComponentNamesLayerEntryAndOffset) {
  Tree t;
  auto r = apply_archive(
      t, tar("evil.tar", {TarEntry::file("ok", "1"), TarEntry::file("a/../../etc/shadow", "x")}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::hostile_entry);
  const std::string& m = r.error().message();
  EXPECT_NE(m.find("layer 1 (tarball evil.tar): entry 2 'a/../../etc/shadow' at offset "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("'..'"), std::string::npos);
}

TEST_F(ArchiveInputTest, EntryBelowSymlinkIsRefusedAndNothingIsFollowed) {
  Tree t;
  auto r = apply_archive(t, tar("link.tar", {TarEntry::symlink("escape", "/etc"),
                                             TarEntry::file("escape/passwd", "root::0:0")}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::hostile_entry);
  EXPECT_NE(r.error().message().find("entry 2 'escape/passwd'"), std::string::npos);
  EXPECT_NE(r.error().message().find("symlink"), std::string::npos);
}

TEST_F(ArchiveInputTest, HardLinkToMissingTargetIsRefused) {
  Tree t;
  auto r = apply_archive(t, tar("hl.tar", {TarEntry::hardlink("a", "missing")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("target not found"), std::string::npos);
}

TEST_F(ArchiveInputTest, HardLinkOutsideTheTreeIsRefused) {
  Tree t;
  auto r = apply_archive(t, tar("hl.tar", {TarEntry::hardlink("a", "../../etc/passwd")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("points outside the image"), std::string::npos);
}

TEST_F(ArchiveInputTest, LayersMergeWithWhiteouts) {
  Tree t;
  ASSERT_TRUE(apply_archive(
      t, tar("l1.tar", {TarEntry::file("etc/a", "1"), TarEntry::file("etc/b", "1"),
                        TarEntry::file("opt/x/1", "1"), TarEntry::file("opt/y", "1")})));
  ASSERT_TRUE(apply_archive(
      t, tar("l2.tar", {TarEntry::file("etc/.wh.a", ""), TarEntry::file("etc/b", "22"),
                        TarEntry::file("opt/.wh..wh..opq", ""), TarEntry::file("opt/z", "2")})));
  EXPECT_EQ(t.find("etc/a"), nullptr);
  EXPECT_EQ(t.find("etc/b")->inode->size, 2u);
  EXPECT_EQ(t.find("opt/x"), nullptr);
  EXPECT_EQ(t.find("opt/y"), nullptr);
  EXPECT_NE(t.find("opt/z"), nullptr);
  EXPECT_EQ(t.find("etc/.wh.a"), nullptr);
  EXPECT_EQ(t.find("opt/.wh..wh..opq"), nullptr);
}

TEST_F(ArchiveInputTest, TruncatedArchiveIsAnErrorWithOffset) {
  auto src = tar("t.tar", {TarEntry::file("a", std::string(10000, 'a')),
                           TarEntry::file("b", std::string(10000, 'b'))});
  std::filesystem::resize_file(src.path, 6000);
  Tree t;
  auto r = apply_archive(t, src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::archive);
  EXPECT_NE(r.error().message().find("layer 1 (tarball t.tar)"), std::string::npos)
      << r.error().message();
}

TEST_F(ArchiveInputTest, GarbageIsAnError) {
  auto p = tmp.write("junk.tar", std::string(4096, '\x7f'));
  SourceInfo src;
  src.path = p.string();
  src.label = "base (tarball junk.tar)";
  Tree t;
  auto r = apply_archive(t, src);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("base (tarball junk.tar)"), std::string::npos);
}

}  // namespace
}  // namespace ef::tree
