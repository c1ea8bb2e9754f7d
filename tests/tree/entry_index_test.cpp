#include "builder/tree/entry_index.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <functional>
#include <map>

#include "builder/tree/data_stream.hpp"
#include "builder/tree/inputs.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::tree {
namespace {

namespace fs = std::filesystem;
using test::TarEntry;

// Every entry kind the archive reader knows, hard links and xattrs included.
std::vector<TarEntry> every_kind() {
  auto caps = TarEntry::file("usr/bin/ping", "ping", 04755);
  caps.uid = 7;
  caps.gid = 8;
  caps.mtime = 1600000000;
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
  return {
      TarEntry::dir("tmp", 01777),
      caps,
      chr,
      fifo,
      sparse,
      TarEntry::file("etc/größe-📦", "utf8"),
      TarEntry::file("etc/empty", ""),
      TarEntry::symlink("bin", "usr/bin"),
      TarEntry::hardlink("usr/bin/ping6", "usr/bin/ping"),
      TarEntry::file("opt/.wh.gone", ""),
      TarEntry::file("usr/share/" + std::string(200, 'L') + "/" + std::string(255, 'x'), "long")};
}

// Everything the image takes from a tree, one line per path.
std::string describe(const Tree& t) {
  std::string out;
  std::map<const Inode*, std::string> first_name;
  std::function<void(const Node&, const std::string&)> walk = [&](const Node& n,
                                                                  const std::string& path) {
    const Inode& i = *n.inode;
    out += path + " type=" + node_type_name(i.type) + " mode=" + std::to_string(i.mode) +
           " owner=" + std::to_string(i.uid) + ":" + std::to_string(i.gid) +
           " mtime=" + std::to_string(i.mtime) + " size=" + std::to_string(i.size) +
           " rdev=" + std::to_string(i.rdev) + " target=" + i.target +
           " data=" + std::to_string(static_cast<int>(i.data.kind)) + "/" +
           std::to_string(i.data.source) + "/" + std::to_string(i.data.ordinal);
    for (const auto& [k, v] : i.xattrs) out += " xattr:" + k + "=" + std::to_string(v.size());
    auto [it, first] = first_name.emplace(&i, path);
    if (!first) out += " same-inode-as=" + it->second;
    out += "\n";
    for (const auto& [name, child] : n.children) walk(*child, path + "/" + name);
  };
  walk(t.root(), "");
  return out;
}

// `index` with its entry count set to `count` and its checksum made to
// match its body again: damage that only the decoder can find.
std::string reseal(std::string index, uint64_t count) {
  for (int i = 0; i < 8; ++i) index[8 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
  uint64_t sum = XXH3_64bits(index.data() + 24, index.size() - 24);
  for (int i = 0; i < 8; ++i) index[16 + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  return index;
}

class EntryIndexTest : public test::TempDirTest {
 protected:
  SourceInfo tar(const std::string& name, const std::vector<TarEntry>& entries,
                 test::TarCompression compression = test::TarCompression::none) {
    auto path = tmp / name;
    test::write_tar(path, entries, compression);
    SourceInfo src;
    src.path = path.string();
    src.label = "base (tarball " + name + ")";
    return src;
  }
  fs::path index() const { return tmp / "trees/digest.idx"; }
};

TEST_F(EntryIndexTest, TreeFromTheIndexEqualsTheTreeFromTheArchive) {
  for (auto c : {test::TarCompression::none, test::TarCompression::zstd}) {
    SCOPED_TRACE(static_cast<int>(c));
    fs::remove_all(tmp / "trees");
    auto src = tar("base.tar", every_kind(), c);
    Tree plain, first, second;
    ASSERT_TRUE(apply_archive(plain, src));
    auto wrote = apply_archive_indexed(first, src, index());
    ASSERT_TRUE(wrote) << wrote.error().message();
    EXPECT_EQ(*wrote, EntryIndexUse::wrote_index);
    ASSERT_TRUE(fs::exists(index()));
    auto used = apply_archive_indexed(second, src, index());
    ASSERT_TRUE(used) << used.error().message();
    EXPECT_EQ(*used, EntryIndexUse::used_index);
    EXPECT_EQ(describe(first), describe(plain));
    EXPECT_EQ(describe(second), describe(plain));
    EXPECT_NE(describe(second).find("same-inode-as=/usr/bin/ping"), std::string::npos);
    // The data pass reads the archive for a tree made from the index.
    auto sparse = read_file_content(second, *second.find("var/sparse.img")->inode, 2 << 20);
    ASSERT_TRUE(sparse) << sparse.error().message();
    EXPECT_EQ(*sparse, std::string(1 << 20, '\0') + "tail");
  }
}

TEST_F(EntryIndexTest, AnIndexThatDoesNotDescribeTheArchiveFailsTheDataPass) {
  auto src = tar("base.tar", {TarEntry::file("etc/motd", "hello"), TarEntry::file("etc/a", "1")});
  Tree first;
  ASSERT_TRUE(apply_archive_indexed(first, src, index()));
  // The archive changes under the same name (and, for the caller, the same
  // digest): the tree is made from the index without reading it...
  tar("base.tar", {TarEntry::file("etc/motd", "hello, world"), TarEntry::file("etc/a", "1")});
  Tree t;
  auto used = apply_archive_indexed(t, src, index());
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, EntryIndexUse::used_index);
  EXPECT_EQ(t.find("etc/motd")->inode->size, 5u);
  // ...and reading its data finds that the entry is not the file the tree has.
  auto data = read_file_content(t, *t.find("etc/motd")->inode, 1 << 20);
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error().code(), Errc::archive);
  EXPECT_NE(data.error().message().find(
                "base (tarball base.tar): entry 1 'etc/motd' is 12 bytes, the tree says 5"),
            std::string::npos)
      << data.error().message();
}

TEST_F(EntryIndexTest, ADamagedIndexIsReadAsNoneAndWrittenAgain) {
  auto src = tar("base.tar", every_kind());
  Tree plain;
  ASSERT_TRUE(apply_archive(plain, src));
  Tree t0;
  ASSERT_TRUE(apply_archive_indexed(t0, src, index()));
  const std::string good = *read_file(index());
  std::vector<std::pair<std::string, std::string>> damages = {
      {"flipped body byte",
       [&] {
         std::string s = good;
         s[s.size() / 2] ^= 0x40;
         return s;
       }()},
      {"truncated", good.substr(0, good.size() - 7)},
      {"bad magic", "XFTREE" + good.substr(6)},
      {"empty", ""},
      // The checksum matches; the last entry is cut short. Nothing of the
      // index reaches the tree before all of it decoded.
      {"sealed but cut short", reseal(good.substr(0, good.size() - 3), 11)},
  };
  for (const auto& [what, bytes] : damages) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(write_file_atomic(index(), bytes));
    Tree t;
    auto r = apply_archive_indexed(t, src, index());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, EntryIndexUse::wrote_index);
    EXPECT_EQ(describe(t), describe(plain));
    EXPECT_EQ(*read_file(index()), good);  // written again, whole
  }
}

// Indexes whose checksum matches but whose body lies: every length and
// count is checked against the bytes there are.
TEST_F(EntryIndexTest, ReaderRefusesBodiesThatLie) {
  EntryIndexWriter w;
  ArchiveEntry e;
  e.path = "etc/" + std::string(100, 'm');  // long enough that two entries' worth of bytes fit
  e.inode.size = 5;
  e.has_data = true;
  w.add(e);
  const std::string good = w.finish();
  auto read_all = [](const std::string& bytes) -> Result<size_t> {
    EF_ASSIGN(auto r, EntryIndexReader::open(bytes, "t.idx"));
    ArchiveEntry out;
    size_t n = 0;
    for (;;) {
      EF_ASSIGN(bool more, r.next(out));
      if (!more) return n;
      ++n;
    }
  };
  ASSERT_TRUE(read_all(good));
  EXPECT_EQ(*read_all(good), 1u);
  struct Case {
    std::string what, bytes, message;
  };
  const size_t path_len_at = 24 + 1 + 1 + 12 + 32;  // the path's length field
  std::string long_path = good;
  long_path[path_len_at + 3] = '\x7f';
  std::string bad_type = good;
  bad_type[24] = '\x09';
  std::string bad_mode = good;
  bad_mode[24 + 2 + 1] = '\x10';  // mode 0x1000 > 07777
  std::vector<Case> cases = {
      {"count beyond the body", reseal(good, 1ull << 40), "cannot fit"},
      {"two entries promised, one there", reseal(good, 2), "cut short"},
      {"bytes after the last entry", reseal(good + "xx", 1), "2 bytes after the last entry"},
      {"a string longer than the index", reseal(long_path, 1), "longer than the index"},
      {"an unknown type", reseal(bad_type, 1), "unknown type"},
      {"a mode beyond 07777", reseal(bad_mode, 1), "mode beyond 07777"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = read_all(c.bytes);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("entry index t.idx is damaged"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
}

TEST_F(EntryIndexTest, ADirectoryKeepsTheMostRecentlyUsedIndexes) {
  fs::create_directories(tmp / "trees");
  auto at = [&](const std::string& name, time_t when) {
    auto p = tmp.write("trees/" + name, "x");
    struct timespec times[2] = {{when, 0}, {when, 0}};
    ::utimensat(AT_FDCWD, p.c_str(), times, 0);
  };
  const time_t now = ::time(nullptr);
  for (int i = 0; i < 5; ++i) at("d" + std::to_string(i) + ".idx", now - 100 + i);
  at("d9.idx.tmp-abcdef", now - 7200);  // a killed build's
  at("d8.idx.tmp-ghijkl", now);         // a build writing one now
  EXPECT_EQ(bound_entry_indexes(tmp / "trees", 2), 4u);
  std::vector<std::string> left;
  for (const auto& f : fs::directory_iterator(tmp / "trees"))
    left.push_back(f.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"d3.idx", "d4.idx", "d8.idx.tmp-ghijkl"}));
}

}  // namespace
}  // namespace ef::tree
