// The block cache: a rebuild takes unchanged blocks from the cache and the
// image is byte for byte the cold build's; damaged entries are found and
// recompressed; builds can share the cache; prune keeps it bounded.
#include "builder/squashfs/block_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "builder/squashfs/caching_compressor.hpp"
#include "builder/squashfs/writer.hpp"
#include "builder/tree/inputs.hpp"
#include "tests/support/command.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::squashfs {
namespace {

namespace fs = std::filesystem;
using test::TarEntry;

// Small files (fragments), files of several blocks with tails, a file of
// whole blocks, random (incompressible) data, identical tails, zeros.
std::vector<TarEntry> entries(uint32_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<TarEntry> out;
  out.push_back(TarEntry::dir("etc"));
  out.push_back(TarEntry::dir("usr"));
  for (int i = 0; i < 60; ++i)
    out.push_back(
        TarEntry::file("etc/f" + std::to_string(i), test::word_text(rng, 50 + rng() % 9000)));
  for (int i = 0; i < 6; ++i)
    out.push_back(TarEntry::file("usr/big" + std::to_string(i),
                                 test::word_text(rng, 131072 * 2 + rng() % 200000)));
  out.push_back(TarEntry::file("usr/whole", test::word_text(rng, 131072 * 3)));
  std::string noise(300000, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  out.push_back(TarEntry::file("usr/noise", noise));
  out.push_back(TarEntry::file("usr/copy-a", "the same little file\n"));
  out.push_back(TarEntry::file("usr/copy-b", "the same little file\n"));
  out.push_back(TarEntry::file("usr/zeros", std::string(140000, '\0')));
  return out;
}

struct Built {
  fs::path path;
  std::string sha256;
};

class BlockCacheTest : public test::TempDirTest {
 protected:
  Built build(const std::string& name, const std::vector<TarEntry>& e, WriterOptions o) {
    fs::path tar = tmp / (name + ".tar");
    test::write_tar(tar, e);
    tree::Tree t;
    tree::SourceInfo src;
    src.path = tar.string();
    src.label = name;
    auto applied = tree::apply_archive(t, src);
    EXPECT_TRUE(applied) << applied.error().message();
    o.mod_time = 1700000000;
    fs::path out = tmp / (name + ".squashfs");
    auto stats = write_image(t, out, o);
    EXPECT_TRUE(stats) << stats.error().message();
    return {out, stats ? stats->sha256 : ""};
  }

  // Every file of `e` is in the image with its content, read by unsquashfs.
  void expect_extracts_to(const fs::path& image, const std::vector<TarEntry>& e) {
    fs::path dir = tmp / ("x-" + image.stem().string());
    auto run = test::run_command("unsquashfs -n -d " + dir.string() + " " + image.string());
    ASSERT_EQ(run.status, 0) << run.out;
    for (const auto& entry : e) {
      if (entry.type != TarEntry::Type::file) continue;
      auto got = read_file(dir / entry.path);
      ASSERT_TRUE(got) << got.error().message();
      EXPECT_TRUE(*got == entry.content) << entry.path;
    }
  }

  std::shared_ptr<BlockCache> cache() { return std::make_shared<BlockCache>(tmp / "cache/blocks"); }

  // The cache's files: packs and their indexes.
  std::vector<fs::path> cache_files(const std::string& extension) {
    std::vector<fs::path> out;
    if (!fs::exists(tmp / "cache/blocks")) return out;
    for (const auto& e : fs::recursive_directory_iterator(tmp / "cache/blocks"))
      if (e.is_regular_file() && e.path().extension() == extension) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  // An index record (docs/cache.md): key, offset, length, result, input
  // size, reserved, XXH3-64 of the payload; `at` is where it starts.
  struct IndexRecord {
    size_t at;
    uint64_t offset;
    uint32_t length, result;
  };
  static std::vector<IndexRecord> index_records(const std::string& index) {
    std::vector<IndexRecord> out;
    for (size_t at = 24; at + 48 <= index.size(); at += 48) {
      IndexRecord r{at, 0, 0, 0};
      std::memcpy(&r.offset, index.data() + at + 16, 8);
      std::memcpy(&r.length, index.data() + at + 24, 4);
      std::memcpy(&r.result, index.data() + at + 28, 4);
      out.push_back(r);
    }
    return out;
  }
  // Makes the index's own checksum match its (changed) records again.
  static void reseal(std::string& index) {
    uint64_t sum = XXH3_64bits(index.data() + 24, index.size() - 24);
    std::memcpy(index.data() + 16, &sum, 8);
  }
};

class WarmRebuildTest : public BlockCacheTest,
                        public ::testing::WithParamInterface<std::pair<std::string, int>> {};

// Changing one file of the tree: the warm rebuild compresses only that
// file's blocks (and the fragment block its tail is in) and writes what a
// cold build of the same tree writes.
TEST_P(WarmRebuildTest, OneChangedFileGivesTheColdBuildsBytes) {
  WriterOptions o;
  o.compression = GetParam().first;
  o.level = GetParam().second;
  auto cached = o;
  cached.block_cache = cache();
  auto v1 = entries();
  Built first = build("v1", v1, cached);
  auto s1 = cached.block_cache->stats();
  EXPECT_EQ(s1.hits, 0u);
  EXPECT_GT(s1.misses, 10u);
  EXPECT_EQ(s1.stored, s1.misses);  // the image holds every block it compressed
  EXPECT_EQ(s1.pack_blocks, s1.stored);
  EXPECT_EQ(first.sha256, build("v1-cold", v1, o).sha256) << "the cache changed a cold build";

  auto v2 = v1;
  v2[4].content[17] ^= 1;       // a small file: its fragment block changes
  v2[63].content[200000] ^= 1;  // usr/big1's second block
  cached.block_cache = cache();
  Built warm = build("v2", v2, cached);
  Built cold = build("v2-cold", v2, o);
  EXPECT_EQ(warm.sha256, cold.sha256);
  auto s2 = cached.block_cache->stats();
  EXPECT_GE(s2.misses, 2u);
  EXPECT_LE(s2.misses, 4u);  // the changed block, one or two fragment blocks
  EXPECT_GT(s2.hits, s1.misses / 2);
  EXPECT_EQ(s2.damaged, 0u);
  EXPECT_EQ(s2.stored, s2.misses);
  EXPECT_EQ(s2.replaced, 0u);  // v1's pack holds blocks v2 lacks

  // Nothing changed: every block is a hit, and the new pack holds every
  // block of v2's, which it replaces.
  cached.block_cache = cache();
  EXPECT_EQ(build("v2-again", v2, cached).sha256, cold.sha256);
  auto s3 = cached.block_cache->stats();
  EXPECT_EQ(s3.misses, 0u);
  EXPECT_EQ(s3.stored, 0u);
  EXPECT_EQ(s3.replaced, 1u);
  EXPECT_EQ(cache_files(".pack").size(), 2u);  // v1's and v2-again's
  // unsquashfs (squashfs-tools) reads the warm image back as the tree.
  expect_extracts_to(warm.path, v2);
}

INSTANTIATE_TEST_SUITE_P(Compressors, WarmRebuildTest,
                         ::testing::Values(std::make_pair(std::string("zstd"), 15),
                                           std::make_pair(std::string("xz"), 6),
                                           std::make_pair(std::string("gzip"), 9)),
                         [](const auto& test_info) { return test_info.param.first; });

// The pack is the image itself: a hard link, no second copy of its bytes.
TEST_F(BlockCacheTest, APackIsTheImageItNames) {
  WriterOptions o;
  o.level = 15;
  o.block_cache = cache();
  Built built = build("one", entries(), o);
  auto packs = cache_files(".pack");
  ASSERT_EQ(packs.size(), 1u);
  struct stat image {
  }, pack{};
  ASSERT_EQ(::stat(built.path.c_str(), &image), 0);
  ASSERT_EQ(::stat(packs[0].c_str(), &pack), 0);
  EXPECT_EQ(image.st_ino, pack.st_ino);
  EXPECT_EQ(image.st_dev, pack.st_dev);
  // Every record of its index names bytes of the image that decompress
  // into a block of the tree (checked by the next build taking all of them).
  auto index = read_file(fs::path(packs[0]).replace_extension(".idx"));
  ASSERT_TRUE(index);
  EXPECT_EQ(index_records(*index).size(), o.block_cache->stats().pack_blocks);
  o.block_cache = cache();
  EXPECT_EQ(build("two", entries(), o).sha256, built.sha256);
  EXPECT_EQ(o.block_cache->stats().misses, 0u);
  EXPECT_EQ(o.block_cache->stats().damaged, 0u);
}

// A cache on another file system than the image cannot link it: the pack
// is a copy, and serves the next build the same way.
TEST_F(BlockCacheTest, ACacheOnAnotherFileSystemGetsACopy) {
  struct stat shm {
  }, here{};
  if (::stat("/dev/shm", &shm) != 0 || ::stat(tmp.path().c_str(), &here) != 0 ||
      shm.st_dev == here.st_dev)
    GTEST_SKIP() << "needs /dev/shm on a file system of its own";
  char name[] = "/dev/shm/edgeforge-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(name), nullptr);
  fs::path dir = name;
  WriterOptions o;
  o.level = 15;
  o.block_cache = std::make_shared<BlockCache>(dir / "blocks");
  Built built = build("one", entries(), o);
  EXPECT_EQ(o.block_cache->stats().store_errors, 0u);
  std::vector<fs::path> packs;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".pack") packs.push_back(e.path());
  ASSERT_EQ(packs.size(), 1u);
  struct stat pack {
  }, image{};
  ASSERT_EQ(::stat(packs[0].c_str(), &pack), 0);
  ASSERT_EQ(::stat(built.path.c_str(), &image), 0);
  EXPECT_NE(pack.st_dev, image.st_dev);
  EXPECT_EQ(read_file(packs[0]).value(), read_file(built.path).value());
  o.block_cache = std::make_shared<BlockCache>(dir / "blocks");
  EXPECT_EQ(build("two", entries(), o).sha256, built.sha256);
  EXPECT_EQ(o.block_cache->stats().misses, 0u);
  fs::remove_all(dir);
}

// Entries damaged in different ways: each is found and recompressed, and
// the image is still the cold build's.
TEST_F(BlockCacheTest, DamagedEntriesAreFoundAndNeverWrittenIntoTheImage) {
  WriterOptions o;
  o.level = 15;
  auto cached = o;
  cached.block_cache = cache();
  auto e = entries();
  std::string cold = build("cold", e, o).sha256;
  EXPECT_EQ(build("fill", e, cached).sha256, cold);
  auto packs = cache_files(".pack");
  ASSERT_EQ(packs.size(), 1u);
  fs::path index_path = fs::path(packs[0]).replace_extension(".idx");
  // The pack is the image "fill": damage a copy of it (the output stays
  // whole; write_file_atomic puts a new file in the pack's place).
  std::string pack = *read_file(packs[0]), index = *read_file(index_path);
  auto list = index_records(index);
  ASSERT_GE(list.size(), 8u);
  size_t damaged = 0;
  for (const auto& r : list) {
    if (r.result < 64 || damaged == 4) continue;  // damage compressed entries
    char* rec = index.data() + r.at;
    switch (damaged++) {
      case 0:  // one flipped payload byte: the checksum finds it
        pack[r.offset + r.result / 2] ^= 0x10;
        break;
      case 1:  // a record whose length no longer fits its result
        rec[24] ^= 1;
        break;
      case 2: {  // a record pointing one byte off
        uint64_t offset = r.offset + 1;
        std::memcpy(rec + 16, &offset, 8);
        break;
      }
      case 3: {  // a flipped payload byte with the checksum made to match:
                 // decompressing it is what finds it
        pack[r.offset + r.result / 3] ^= 0x01;
        uint64_t sum = XXH3_64bits(pack.data() + r.offset, r.length);
        std::memcpy(rec + 40, &sum, 8);
        break;
      }
    }
  }
  reseal(index);
  ASSERT_TRUE(write_file_atomic(packs[0], pack));
  ASSERT_TRUE(write_file_atomic(index_path, index));
  ASSERT_EQ(damaged, 4u);
  cached.block_cache = cache();
  EXPECT_EQ(build("again", e, cached).sha256, cold);
  auto s = cached.block_cache->stats();
  EXPECT_EQ(s.damaged, 4u);
  EXPECT_EQ(s.misses, 4u);
  EXPECT_EQ(s.stored, 4u);
  EXPECT_EQ(s.replaced, 1u);  // "again" holds every block: the damaged pack is gone
  // A pack cut short (its image changed in place): the entry past the end
  // is found missing, not read as zeros, and compressed again.
  packs = cache_files(".pack");
  ASSERT_EQ(packs.size(), 1u);
  list = index_records(*read_file(fs::path(packs[0]).replace_extension(".idx")));
  uint64_t last = 0;
  for (const auto& r : list) last = std::max(last, r.offset);
  ASSERT_EQ(::truncate(packs[0].c_str(), static_cast<off_t>(last + 10)), 0);
  cached.block_cache = cache();
  EXPECT_EQ(build("truncated", e, cached).sha256, cold);
  EXPECT_EQ(cached.block_cache->stats().damaged, 1u);
  EXPECT_EQ(cached.block_cache->stats().misses, 1u);
  // A damaged index: its pack is not used at all (every block is compressed).
  packs = cache_files(".pack");
  ASSERT_EQ(packs.size(), 1u);
  index_path = fs::path(packs[0]).replace_extension(".idx");
  index = *read_file(index_path);
  index[index.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(index_path, index));
  cached.block_cache = cache();
  EXPECT_EQ(build("bad-index", e, cached).sha256, cold);
  EXPECT_EQ(cached.block_cache->stats().hits, 0u);
  // Replaced by the newer pack: the next build finds every block.
  cached.block_cache = cache();
  EXPECT_EQ(build("after", e, cached).sha256, cold);
  EXPECT_EQ(cached.block_cache->stats().damaged, 0u);
  EXPECT_EQ(cached.block_cache->stats().misses, 0u);
}

// Two builds of different trees at once, sharing one cache directory (and
// a third after them): all images are their cold builds' bytes.
TEST_F(BlockCacheTest, TwoBuildsAtOnceShareOneCache) {
  WriterOptions o;
  o.level = 15;
  auto a = entries(1), b = entries(2);
  b.push_back(TarEntry::dir("shared"));
  for (size_t i = 2; i < 70; ++i) {  // partly the same files
    b.push_back(a[i]);
    b.back().path = "shared/" + std::to_string(i);
  }
  std::string cold_a = build("cold-a", a, o).sha256, cold_b = build("cold-b", b, o).sha256;
  Built built_a, built_b;
  auto cached = o;
  std::thread ta([&] {
    auto oa = cached;
    oa.block_cache = cache();
    built_a = build("a", a, oa);
  });
  std::thread tb([&] {
    auto ob = cached;
    ob.block_cache = cache();
    built_b = build("b", b, ob);
  });
  ta.join();
  tb.join();
  EXPECT_EQ(built_a.sha256, cold_a);
  EXPECT_EQ(built_b.sha256, cold_b);
  expect_extracts_to(built_b.path, b);
  cached.block_cache = cache();
  EXPECT_EQ(build("b-again", b, cached).sha256, cold_b);
  EXPECT_EQ(cached.block_cache->stats().misses, 0u);
  EXPECT_EQ(cached.block_cache->stats().damaged, 0u);
}

// Each setting has its own shelf: a level-3 build never takes level-15
// blocks (they would decompress to the same data, but are other bytes).
TEST_F(BlockCacheTest, AnotherLevelIsAnotherShelf) {
  WriterOptions o;
  o.block_cache = cache();
  o.level = 15;
  auto e = entries();
  build("l15", e, o);
  o.block_cache = cache();
  o.level = 3;
  WriterOptions cold;
  cold.level = 3;
  EXPECT_EQ(build("l3", e, o).sha256, build("l3-cold", e, cold).sha256);
  EXPECT_EQ(o.block_cache->stats().hits, 0u);
  size_t shelves = 0;
  for (const auto& d : fs::directory_iterator(tmp / "cache/blocks")) shelves += d.is_directory();
  EXPECT_EQ(shelves, 2u);
}

TEST_F(BlockCacheTest, PruneKeepsTheCacheWithinItsSizeAndDropsTheOldestFirst) {
  WriterOptions o;
  o.level = 15;
  o.block_cache = cache();
  build("one", entries(1), o);
  auto first = cache_files(".idx");
  ASSERT_EQ(first.size(), 1u);
  o.block_cache = cache();
  build("two", entries(2), o);  // other files: a second pack
  auto indexes = cache_files(".idx");
  ASSERT_EQ(indexes.size(), 2u);
  if (indexes[0] != first[0]) std::swap(indexes[0], indexes[1]);  // [0]: build one's
  std::vector<fs::path> packs;
  for (const auto& i : indexes) packs.push_back(fs::path(i).replace_extension(".pack"));
  auto disk = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  };
  // Whichever pack was used a day ago goes first.
  struct timespec old[2] = {{std::time(nullptr) - 86400, 0}, {std::time(nullptr) - 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, indexes[1].c_str(), old, 0), 0);
  uint64_t total = disk(indexes[0]) + disk(indexes[1]) + disk(packs[0]) + disk(packs[1]);
  uint64_t recent = disk(indexes[0]) + disk(packs[0]);
  BlockCache c(tmp / "cache/blocks");
  auto nothing = c.prune(total);
  ASSERT_TRUE(nothing) << nothing.error().message();
  EXPECT_EQ(nothing->removed, 0u);
  EXPECT_EQ(nothing->packs, 2u);
  EXPECT_EQ(nothing->bytes, total);
  auto r = c.prune(recent);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->removed, 1u);
  EXPECT_EQ(r->removed_bytes, total - recent);
  EXPECT_TRUE(fs::exists(packs[0]) && fs::exists(indexes[0]));
  EXPECT_FALSE(fs::exists(packs[1]) || fs::exists(indexes[1]));
  // A build that used the pack a day old (but not all of it) keeps it:
  // its index is touched.
  ASSERT_EQ(::utimensat(AT_FDCWD, indexes[0].c_str(), old, 0), 0);
  o.block_cache = cache();
  auto part = entries(1);
  part.erase(part.end() - 4, part.end());  // the noise file's blocks stay only in pack one
  build("one-part", part, o);
  EXPECT_GT(o.block_cache->stats().hits, 0u);
  EXPECT_EQ(o.block_cache->stats().replaced, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(indexes[0].c_str(), &st), 0);
  EXPECT_GT(st.st_mtime, std::time(nullptr) - 600);
  // A stopped build's pack (no index) an hour old is a leftover.
  fs::path leftover = packs[0].parent_path() / "0000000001.000000000-1-deadbeef.pack";
  ASSERT_TRUE(write_file_atomic(leftover, "half a pack"));
  ASSERT_EQ(::utimensat(AT_FDCWD, leftover.c_str(), old, 0), 0);
  auto all = c.prune(0);
  ASSERT_TRUE(all);
  EXPECT_TRUE(cache_files(".pack").empty());
  EXPECT_TRUE(cache_files(".idx").empty());
  // An empty cache builds right again.
  WriterOptions cold;
  cold.level = 15;
  o.block_cache = cache();
  EXPECT_EQ(build("refill", entries(), o).sha256, build("cold", entries(), cold).sha256);
}

TEST(BlockCacheSizes, ParseSize) {
  EXPECT_EQ(*parse_size("4G"), 4ull << 30);
  EXPECT_EQ(*parse_size("512M"), 512ull << 20);
  EXPECT_EQ(*parse_size("10GiB"), 10ull << 30);
  EXPECT_EQ(*parse_size("1k"), 1024u);
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("123B"), 123u);
  for (const char* bad : {"", "G", "4X", "4GB2", "-1", "99999999999T"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("e.g. 4G"), std::string::npos);
  }
}

TEST(BlockCacheFingerprint, NamesSettingsAndLibraries) {
  sqfs_compressor_config_t cfg;
  ASSERT_EQ(sqfs_compressor_config_init(&cfg, SQFS_COMP_ZSTD, 131072, 0), 0);
  cfg.level = 15;
  sqfs_compressor_t* a = nullptr;
  ASSERT_EQ(sqfs_compressor_create(&cfg, &a), 0);
  cfg.level = 14;
  sqfs_compressor_t* b = nullptr;
  ASSERT_EQ(sqfs_compressor_create(&cfg, &b), 0);
  std::string fa = compressor_fingerprint(a), fb = compressor_fingerprint(b);
  EXPECT_NE(fa, fb);
  EXPECT_EQ(fa, compressor_fingerprint(a));
  EXPECT_NE(fa.find("zstd 1."), std::string::npos) << fa;
  EXPECT_NE(fa.find("probe "), std::string::npos) << fa;
  sqfs_destroy(a);
  sqfs_destroy(b);
}

}  // namespace
}  // namespace ef::squashfs
