#include "builder/squashfs/writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>
#include <sstream>

#include "builder/tree/inputs.hpp"
#include "image/squashfs_reader.hpp"
#include "tests/support/command.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::squashfs {
namespace {

using image::ImageEntry;
using image::ImageReader;
using test::TarEntry;
using tree::NodeType;

// What an entry must look like in the image, derived from the fixture alone.
struct Expected {
  char type = '-';  // ls -l type letter
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0;
  std::string target, sha256;
  uint32_t major = 0, minor = 0;
  std::map<std::string, std::string> xattrs;
};

std::vector<TarEntry> fixture_entries() {
  std::vector<TarEntry> e;
  e.push_back(TarEntry::dir("etc", 0755));
  e.push_back(TarEntry::file("etc/hostname", "edge-01\n"));
  auto shadow = TarEntry::file("etc/shadow", "root:*:19000::::::\n", 0640);
  shadow.gid = 42;
  e.push_back(shadow);
  e.push_back(TarEntry::dir("tmp", 01777));
  auto passwd = TarEntry::file("usr/bin/passwd", std::string(300000, 'p') + "end", 04755);
  e.push_back(passwd);
  e.push_back(TarEntry::hardlink("usr/bin/chfn", "usr/bin/passwd"));
  auto sgid = TarEntry::file("usr/bin/wall", "wall", 02755);
  sgid.gid = 5;
  e.push_back(sgid);
  auto ping = TarEntry::file("usr/bin/ping", "ping-binary", 0755);
  ping.xattrs["security.capability"] = std::string(
      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  ping.xattrs["user.origin"] = "fixture";
  ping.xattrs["trusted.note"] = "t";
  e.push_back(ping);
  e.push_back(TarEntry::symlink("bin", "usr/bin"));
  e.push_back(TarEntry::symlink("usr/lib/libfoo.so", "libfoo.so.1.2.3"));
  TarEntry null;
  null.type = TarEntry::Type::chr;
  null.path = "dev/null";
  null.mode = 0666;
  null.rdev_major = 1;
  null.rdev_minor = 3;
  e.push_back(null);
  TarEntry sda;
  sda.type = TarEntry::Type::blk;
  sda.path = "dev/sda";
  sda.mode = 0660;
  sda.gid = 6;
  sda.rdev_major = 8;
  sda.rdev_minor = 0;
  e.push_back(sda);
  TarEntry fifo;
  fifo.type = TarEntry::Type::fifo;
  fifo.path = "run/initctl";
  fifo.mode = 0600;
  e.push_back(fifo);
  auto sparse = TarEntry::file("var/lib/sparse.img", "TAIL", 0644);
  sparse.sparse_offset = 3 * 131072;
  e.push_back(sparse);
  auto user = TarEntry::file("home/edge/.profile", "export PS1\n", 0644);
  user.uid = 1000;
  user.gid = 1000;
  e.push_back(user);
  e.push_back(TarEntry::file("usr/share/doc/größe-ünïcode", "utf-8 name"));
  e.push_back(
      TarEntry::file("usr/share/" + std::string(120, 'd') + "/" + std::string(250, 'f'), "long"));
  e.push_back(TarEntry::file("empty", ""));
  return e;
}

std::map<std::string, Expected> expected_from(const std::vector<TarEntry>& entries) {
  std::map<std::string, Expected> out;
  for (const auto& te : entries) {
    Expected x;
    if (te.type == TarEntry::Type::hardlink) {
      out["/" + te.path] = out.at("/" + te.target);
      continue;
    }
    x.mode = te.mode;
    x.uid = te.uid;
    x.gid = te.gid;
    x.xattrs = te.xattrs;
    switch (te.type) {
      case TarEntry::Type::file: {
        x.type = '-';
        std::string data = std::string(static_cast<size_t>(te.sparse_offset), '\0') + te.content;
        x.size = data.size();
        x.sha256 = sha256_hex(data);
        break;
      }
      case TarEntry::Type::dir:
        x.type = 'd';
        break;
      case TarEntry::Type::symlink:
        x.type = 'l';
        x.target = te.target;
        x.size = te.target.size();
        break;
      case TarEntry::Type::chr:
        x.type = 'c';
        break;
      case TarEntry::Type::blk:
        x.type = 'b';
        break;
      case TarEntry::Type::fifo:
        x.type = 'p';
        break;
      case TarEntry::Type::hardlink:
        break;
    }
    x.major = te.rdev_major;
    x.minor = te.rdev_minor;
    out["/" + te.path] = x;
  }
  return out;
}

char type_letter(NodeType t) {
  switch (t) {
    case NodeType::directory:
      return 'd';
    case NodeType::symlink:
      return 'l';
    case NodeType::char_device:
      return 'c';
    case NodeType::block_device:
      return 'b';
    case NodeType::fifo:
      return 'p';
    case NodeType::socket:
      return 's';
    default:
      return '-';
  }
}

// "rwsr-xr-x" style permission string as ls and unsquashfs print it.
std::string perm_string(uint32_t mode) {
  std::string s = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i)
    if (!(mode & (0400u >> i))) s[static_cast<size_t>(i)] = '-';
  auto special = [&](size_t pos, uint32_t bit, char set_x, char set_nox) {
    if (mode & bit) s[pos] = s[pos] == 'x' ? set_x : set_nox;
  };
  special(2, 04000, 's', 'S');
  special(5, 02000, 's', 'S');
  special(8, 01000, 't', 'T');
  return s;
}

// A file's bytes as `reader` reads them from the image.
std::string file_content(ImageReader& reader, const std::string& path) {
  std::string out;
  auto read = reader.read_file(path, [&](const void* d, size_t n) -> Result<void> {
    out.append(static_cast<const char*>(d), n);
    return Ok{};
  });
  EXPECT_TRUE(read) << path;
  return out;
}

class WriterTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    entries_ = fixture_entries();
    test::write_tar(tmp / "rootfs.tar", entries_);
  }

  std::filesystem::path build(const std::string& name, WriterOptions options = {}) {
    tree::Tree t;
    tree::SourceInfo src;
    src.path = (tmp / "rootfs.tar").string();
    src.label = "base";
    auto applied = tree::apply_archive(t, src);
    EXPECT_TRUE(applied) << applied.error().message();
    auto out = tmp / name;
    auto stats = write_image(t, out, options);
    EXPECT_TRUE(stats) << stats.error().message();
    return out;
  }

  std::vector<TarEntry> entries_;
};

TEST_F(WriterTest, ReadBackWithLibsquashfsMatchesInputs) {
  auto image = build("a.squashfs");
  auto reader = ImageReader::open(image);
  ASSERT_TRUE(reader) << reader.error().message();
  auto listed = (*reader)->list();
  ASSERT_TRUE(listed) << listed.error().message();
  auto want = expected_from(entries_);
  std::map<std::string, ImageEntry> got;
  for (auto& e : *listed) got[e.path] = e;
  for (const auto& [path, x] : want) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(got.count(path));
    const ImageEntry& e = got.at(path);
    EXPECT_EQ(type_letter(e.type), x.type);
    EXPECT_EQ(e.mode, x.mode);
    EXPECT_EQ(e.uid, x.uid);
    EXPECT_EQ(e.gid, x.gid);
    EXPECT_EQ(e.xattrs, x.xattrs);
    if (x.type == 'l') {
      EXPECT_EQ(e.target, x.target);
    }
    if (x.type == 'c' || x.type == 'b') {
      EXPECT_EQ(major(e.rdev), x.major);
      EXPECT_EQ(minor(e.rdev), x.minor);
    }
    if (x.type == '-') {
      EXPECT_EQ(e.size, x.size);
      Sha256 h;
      ASSERT_TRUE((*reader)->read_file(path, [&](const void* d, size_t n) -> Result<void> {
        h.update(d, n);
        return Ok{};
      }));
      EXPECT_EQ(h.hex_digest(), x.sha256);
    }
  }
  // Hard links share the inode and count both names.
  EXPECT_EQ(got.at("/usr/bin/chfn").inode_number, got.at("/usr/bin/passwd").inode_number);
  EXPECT_EQ(got.at("/usr/bin/chfn").nlink, 2u);
  // Implicit parents are root-owned 0755 directories.
  EXPECT_EQ(got.at("/usr").mode, 0755u);
  // Nothing else but the implicit parent directories.
  for (const auto& [path, e] : got) {
    if (want.count(path)) continue;
    SCOPED_TRACE(path);
    EXPECT_EQ(e.type, NodeType::directory);
    EXPECT_EQ(e.mode, 0755u);
    EXPECT_EQ(e.uid, 0u);
  }
  EXPECT_EQ(got.size(), want.size() + 13);
}

// list_dir gives one directory's slice of the full listing; exists agrees.
TEST_F(WriterTest, ListDirMatchesTheFullListing) {
  auto image = build("a.squashfs");
  auto reader = ImageReader::open(image);
  ASSERT_TRUE(reader) << reader.error().message();
  auto listed = (*reader)->list();
  ASSERT_TRUE(listed) << listed.error().message();
  for (std::string dir : {"/", "/usr/bin", "/etc"}) {
    SCOPED_TRACE(dir);
    std::vector<std::string> want;
    std::string prefix = dir == "/" ? "/" : dir + "/";
    for (const auto& e : *listed)
      if (e.path == dir || (e.path.starts_with(prefix) && e.path.size() > prefix.size() &&
                            e.path.find('/', prefix.size()) == std::string::npos))
        want.push_back(e.path);
    auto slice = (*reader)->list_dir(dir);
    ASSERT_TRUE(slice) << slice.error().message();
    std::vector<std::string> got;
    for (const auto& e : *slice) got.push_back(e.path);
    EXPECT_EQ(got, want);
    EXPECT_GT(got.size(), 1u);
  }
  EXPECT_TRUE((*reader)->exists("/usr/bin/passwd"));
  EXPECT_FALSE((*reader)->exists("/usr/bin/no-such-tool"));
  auto missing = (*reader)->list_dir("/no/such/dir");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/no/such/dir"), std::string::npos);
  auto file = (*reader)->list_dir("/usr/bin/passwd");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message().find("not a directory"), std::string::npos);
}

// unsquashfs (squashfs-tools, not libsquashfs) as the outside oracle.
TEST_F(WriterTest, UnsquashfsListingMatchesInputs) {
  if (!test::have_tool("unsquashfs")) GTEST_SKIP() << "unsquashfs not installed";
  auto image = build("b.squashfs");
  auto listing = test::run_command("unsquashfs -lln -d '' " + image.string());
  ASSERT_EQ(listing.status, 0) << listing.out;
  std::map<std::string, std::string> lines;  // path -> "mode uid/gid size"
  std::istringstream in(listing.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string mode, owner, size, date, time, path;
    ls >> mode >> owner >> size;
    if (size.back() == ',') {  // devices print "major, minor"
      std::string minor_part;
      ls >> minor_part;
      size += minor_part;
    }
    ls >> date >> time;
    std::getline(ls, path);
    path = path.substr(1);
    auto arrow = path.find(" -> ");
    if (arrow != std::string::npos) path = path.substr(0, arrow);
    lines[path] = mode + " " + owner + " " + size;
  }
  for (const auto& [path, x] : expected_from(entries_)) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(lines.count(path)) << listing.out;
    std::string size = (x.type == 'c' || x.type == 'b')
                           ? std::to_string(x.major) + "," + std::to_string(x.minor)
                           : std::to_string(x.type == 'd' ? 0 : x.size);
    std::string want = std::string(1, x.type) + perm_string(x.mode) + " " + std::to_string(x.uid) +
                       "/" + std::to_string(x.gid) + " " + size;
    if (x.type == 'd')
      want = want.substr(0, want.rfind(' '));  // directory sizes are layout-specific
    EXPECT_EQ(lines.at(path).substr(0, want.size()), want);
  }
}

// sqfs2tar + libarchive as an oracle for contents and xattrs.
TEST_F(WriterTest, Sqfs2tarContentsAndXattrsMatchInputs) {
  if (!test::have_tool("sqfs2tar")) GTEST_SKIP() << "sqfs2tar not installed";
  auto image = build("c.squashfs");
  auto tar_path = tmp / "back.tar";
  ASSERT_EQ(test::run_command("sqfs2tar " + image.string() + " > " + tar_path.string()).status, 0);
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  archive_read_support_format_all(a.get());
  ASSERT_EQ(archive_read_open_filename(a.get(), tar_path.c_str(), 65536), ARCHIVE_OK);
  auto want = expected_from(entries_);
  archive_entry* e = nullptr;
  size_t checked = 0;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    std::string path = "/" + std::string(archive_entry_pathname(e));
    if (path.back() == '/') path.pop_back();
    if (!want.count(path)) continue;
    const Expected& x = want.at(path);
    SCOPED_TRACE(path);
    std::map<std::string, std::string> xattrs;
    const char* name;
    const void* value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      xattrs[name] = std::string(static_cast<const char*>(value), size);
    EXPECT_EQ(xattrs, x.xattrs);
    if (x.type == '-' && archive_entry_hardlink(e) == nullptr) {
      std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
      archive_read_data(a.get(), data.data(), data.size());
      EXPECT_EQ(sha256_hex(data), x.sha256);
    }
    ++checked;
  }
  EXPECT_EQ(checked, want.size());
}

TEST_F(WriterTest, SameBytesForAnyWorkerCountAndDirectory) {
  WriterOptions one;
  one.workers = 1;
  WriterOptions many;
  many.workers = 4;
  auto a = build("one.squashfs", one);
  std::filesystem::create_directories(tmp / "elsewhere/deeper");
  auto b = build("elsewhere/deeper/many.squashfs", many);
  EXPECT_EQ(*sha256_file(a), *sha256_file(b));
}

// A golden digest pins the on-disk format: any change to ordering, inode
// numbering or table layout shows up here (update deliberately, never blindly).
TEST_F(WriterTest, GoldenDigestOfFixedFixture) {
  WriterOptions o;
  o.mod_time = 1700000000;
  auto image = build("golden.squashfs", o);
  EXPECT_EQ(*sha256_file(image),
            "c9a9467e3fd87650fbb8bf9c0427e5b0967efbfdf156f49112c5ff9eb410e59f");
}

// unsquashfs 4.5.1 cannot read lz4 images written by libsquashfs (tar2sqfs's
// included), so lz4 is checked with squashfs-tools-ng's rdsquashfs instead.
TEST_F(WriterTest, EveryCompressorIsReadableByOutsideTools) {
  if (!test::have_tool("unsquashfs") || !test::have_tool("rdsquashfs"))
    GTEST_SKIP() << "tools missing";
  for (std::string c : {"zstd", "xz", "gzip", "lz4"}) {
    SCOPED_TRACE(c);
    ASSERT_TRUE(compressor_supported(c));
    WriterOptions o;
    o.compression = c;
    o.block_size = 65536;
    auto image = build(c + ".squashfs", o);
    std::string cmd = c == "lz4" ? "rdsquashfs -c /etc/hostname " + image.string()
                                 : "unsquashfs -cat " + image.string() + " etc/hostname";
    auto cat = test::run_command(cmd);
    EXPECT_EQ(cat.status, 0);
    EXPECT_EQ(cat.out, "edge-01\n");
    auto reader = ImageReader::open(image);
    ASSERT_TRUE(reader);
    EXPECT_EQ((*reader)->info().compression, c);
    EXPECT_EQ((*reader)->info().block_size, 65536u);
  }
  EXPECT_FALSE(compressor_supported("brotli"));
}

TEST_F(WriterTest, UnstorableXattrsAreNamedAndDropped) {
  tree::Tree t;
  auto inode = std::make_shared<tree::Inode>();
  inode->type = NodeType::directory;
  inode->mode = 0755;
  inode->xattrs["system.posix_acl_access"] = "acl";
  inode->xattrs["user.keep"] = "yes";
  ASSERT_TRUE(t.put("d", inode));
  auto file = std::make_shared<tree::Inode>();
  file->type = NodeType::symlink;
  file->mode = 0777;
  file->target = "x";
  file->xattrs["system.posix_acl_default"] = "acl";
  file->xattrs["trusted.keep"] = "yes";
  ASSERT_TRUE(t.put("d/e/f", file));
  auto stats = write_image(t, tmp / "x.squashfs", {});
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->dropped_xattrs.size(), 2u);
  EXPECT_EQ(stats->dropped_xattrs[0].name, "system.posix_acl_access");
  EXPECT_EQ(stats->dropped_xattrs[0].path, "/d");
  EXPECT_EQ(stats->dropped_xattrs[1].name, "system.posix_acl_default");
  EXPECT_EQ(stats->dropped_xattrs[1].path, "/d/e/f");
  auto reader = ImageReader::open(tmp / "x.squashfs");
  auto listed = (*reader)->list();
  EXPECT_EQ(listed->at(1).xattrs, (std::map<std::string, std::string>{{"user.keep", "yes"}}));
}

// The digest the writer reports is sha256sum's, and the observer sees each
// file's bytes once, in order, as they go into the image.
TEST_F(WriterTest, ReportsTheImageDigestAndShowsEveryFilesData) {
  tree::Tree t;
  tree::SourceInfo src;
  src.path = (tmp / "rootfs.tar").string();
  src.label = "base";
  ASSERT_TRUE(tree::apply_archive(t, src));
  std::map<const tree::Inode*, std::string> by_inode;
  WriterOptions o;
  o.data_observer = [&](const tree::Inode& inode, std::string_view data) {
    by_inode[&inode].append(data);
  };
  auto stats = write_image(t, tmp / "seen.squashfs", o);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->sha256, *sha256_file(tmp / "seen.squashfs"));
  EXPECT_EQ(stats->sha256.size(), 64u);
  size_t files = 0;
  for (const auto& e : entries_) {
    if (e.type != TarEntry::Type::file) continue;
    ++files;
    const tree::Node* node = t.find(e.path);
    ASSERT_NE(node, nullptr) << e.path;
    std::string want = std::string(static_cast<size_t>(e.sparse_offset), '\0') + e.content;
    EXPECT_EQ(by_inode[node->inode.get()], want) << e.path;
  }
  EXPECT_GT(files, 3u);
}

// Identical files share their blocks: libsquashfs's block writer finds the
// duplicate run and truncates the output file back over it.
TEST_F(WriterTest, DuplicateFilesShareTheirBlocks) {
  std::string big;
  for (uint32_t i = 0; big.size() < 600000; ++i) big += std::to_string(i * 2654435761u) + ",";
  std::vector<TarEntry> entries{TarEntry::file("a.bin", big), TarEntry::file("b.bin", big),
                                TarEntry::file("c.bin", big + "x")};
  test::write_tar(tmp / "dups.tar", entries);
  tree::Tree t;
  tree::SourceInfo src;
  src.path = (tmp / "dups.tar").string();
  src.label = "dups";
  ASSERT_TRUE(tree::apply_archive(t, src));
  auto stats = write_image(t, tmp / "dups.squashfs", {});
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->sha256, *sha256_file(tmp / "dups.squashfs"));
  auto reader = ImageReader::open(tmp / "dups.squashfs");
  ASSERT_TRUE(reader) << reader.error().message();
  auto content = [&](const std::string& path) { return file_content(**reader, path); };
  EXPECT_EQ(content("/a.bin"), big);
  EXPECT_EQ(content("/b.bin"), big);
  EXPECT_EQ(content("/c.bin"), big + "x");
  // The same tree written again gives the same bytes.
  auto again = write_image(t, tmp / "again.squashfs", {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->sha256, stats->sha256);
  // b's blocks are a's: the image holds little more than one copy of them.
  tree::Tree one;
  test::write_tar(tmp / "one.tar", {TarEntry::file("a.bin", big)});
  src.path = (tmp / "one.tar").string();
  ASSERT_TRUE(tree::apply_archive(one, src));
  ASSERT_TRUE(write_image(one, tmp / "one.squashfs", {}));
  uint64_t one_copy = std::filesystem::file_size(tmp / "one.squashfs");
  EXPECT_LT(std::filesystem::file_size(tmp / "dups.squashfs"), one_copy * 2);
  if (test::have_tool("unsquashfs")) {
    auto cat = test::run_command("unsquashfs -cat " + (tmp / "dups.squashfs").string() + " b.bin");
    EXPECT_EQ(cat.status, 0);
    EXPECT_EQ(cat.out, big);
  }
}

// Identical tails are stored once; only tails whose size another tail has
// are hashed to find them (a size no other tail has cannot repeat).
TEST_F(WriterTest, IdenticalTailsAreStoredOnceAndOnlyRepeatingSizesAreHashed) {
  auto noise = [](uint32_t seed, size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>((seed = seed * 1103515245u + 12345u) >> 24);
    return s;
  };
  const std::string a = noise(1, 100000), z = noise(2, 100000), y = noise(3, 100001);
  test::write_tar(tmp / "tails.tar", {TarEntry::file("a1", a), TarEntry::file("a2", a),
                                      TarEntry::file("y", y), TarEntry::file("z", z)});
  tree::Tree t;
  tree::SourceInfo src;
  src.path = (tmp / "tails.tar").string();
  src.label = "tails";
  ASSERT_TRUE(tree::apply_archive(t, src));
  auto stats = write_image(t, tmp / "tails.squashfs", {});
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->tail_bytes_hashed, 3u * 100000);  // a1, a2, z: not y
  auto reader = ImageReader::open(tmp / "tails.squashfs");
  ASSERT_TRUE(reader) << reader.error().message();
  for (const auto& [path, want] :
       std::map<std::string, std::string>{{"/a1", a}, {"/a2", a}, {"/y", y}, {"/z", z}})
    EXPECT_EQ(file_content(**reader, path), want) << path;
  // a2's tail is a1's: the image is about as large as without a2 (its
  // 100,000 random bytes are not stored twice).
  tree::Tree without;
  test::write_tar(tmp / "without.tar",
                  {TarEntry::file("a1", a), TarEntry::file("y", y), TarEntry::file("z", z)});
  src.path = (tmp / "without.tar").string();
  ASSERT_TRUE(tree::apply_archive(without, src));
  auto smaller = write_image(without, tmp / "without.squashfs", {});
  ASSERT_TRUE(smaller);
  EXPECT_LT(stats->bytes, smaller->bytes + 50000);
}

TEST_F(WriterTest, FailedWriteLeavesNoOutput) {
  tree::Tree t;
  WriterOptions bad;
  bad.block_size = 3000;  // not a power of two
  auto stats = write_image(t, tmp / "out/bad.squashfs", bad);
  ASSERT_FALSE(stats);
  EXPECT_FALSE(std::filesystem::exists(tmp / "out/bad.squashfs"));
  EXPECT_TRUE(std::filesystem::is_empty(tmp / "out"));
}

}  // namespace
}  // namespace ef::squashfs
