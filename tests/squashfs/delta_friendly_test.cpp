// Images made for delta updates: the writer closes fragment blocks where
// content says (not only when full), the reader finds where every block
// starts, and the sqfs-cdc-1 chunker cuts there. Together a small change to
// the tree costs a small download, where the same change cut as opaque
// bytes (gear-cdc-1) costs much more.
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "builder/squashfs/writer.hpp"
#include "builder/tree/inputs.hpp"
#include "image/squashfs_reader.hpp"
#include "signing/bundle.hpp"
#include "signing/chunk_index.hpp"
#include "signing/delta_plan.hpp"
#include "tests/support/command.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::squashfs {
namespace {

using test::TarEntry;

// 800 files in 8 directories, sized like a root filesystem's: most of
// them a few KiB (their tails are fragments, dozens to a fragment block),
// some of several blocks.
std::vector<TarEntry> tree_entries() {
  std::mt19937_64 rng(42);
  std::vector<TarEntry> out;
  for (int d = 0; d < 8; ++d) {
    out.push_back(TarEntry::dir("d" + std::to_string(d)));
    for (int f = 0; f < 100; ++f) {
      uint64_t kind = rng() % 20;
      size_t size = kind < 12   ? 100 + rng() % 3000
                    : kind < 17 ? 3000 + rng() % 17000
                    : kind < 19 ? 20000 + rng() % 100000
                                : 140000 + rng() % 400000;
      char name[32];
      std::snprintf(name, sizeof name, "d%d/f%03d", d, f * 2);
      out.push_back(TarEntry::file(name, test::word_text(rng, size)));
    }
  }
  return out;
}

class DeltaFriendlyTest : public test::TempDirTest {
 protected:
  std::filesystem::path image(const std::string& name, const std::vector<TarEntry>& entries) {
    test::write_tar(tmp / (name + ".tar"), entries);
    tree::Tree t;
    tree::SourceInfo src;
    src.path = (tmp / (name + ".tar")).string();
    src.label = name;
    auto applied = tree::apply_archive(t, src);
    EXPECT_TRUE(applied) << applied.error().message();
    WriterOptions o;
    o.mod_time = 1700000000;
    auto out = tmp / (name + ".squashfs");
    auto stats = write_image(t, out, o);
    EXPECT_TRUE(stats) << stats.error().message();
    return out;
  }

  signing::DeltaPlan plan(const std::filesystem::path& from, const std::filesystem::path& to,
                          signing::ChunkAlgorithm algorithm) {
    signing::ChunkParams params;
    params.algorithm = algorithm;
    auto a = signing::describe_payload(from, params);
    auto b = signing::describe_payload(to, params);
    EXPECT_TRUE(a && b);
    if (!a || !b) return {};
    EXPECT_EQ(b->chunking.algorithm, algorithm);
    return signing::plan_delta(a->chunks, b->chunks, b->payload.size, 0);
  }
};

TEST_F(DeltaFriendlyTest, BlockStartsAreEveryDataBlockFragmentBlockAndTable) {
  auto entries = tree_entries();
  auto path = image("v1", entries);
  auto reader = image::ImageReader::open(path);
  ASSERT_TRUE(reader) << reader.error().message();
  auto starts = (*reader)->block_starts();
  ASSERT_TRUE(starts) << starts.error().message();
  uint64_t data_blocks = 0;
  for (const auto& e : entries) data_blocks += e.content.size() / 131072;
  // unsquashfs (squashfs-tools) counts the fragment blocks.
  auto stat = test::run_command("unsquashfs -s " + path.string());
  ASSERT_EQ(stat.status, 0) << stat.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stat.out, m, std::regex("Number of fragments (\\d+)"))) << stat.out;
  uint64_t fragments = std::stoull(m[1]);
  // Fragment blocks close on content, so there are more than the ~3 MB of
  // tails would fill.
  EXPECT_GT(fragments, 20u);
  // Plus the inode, directory, fragment and id tables (no xattrs, no export table).
  EXPECT_EQ(starts->size(), data_blocks + fragments + 4);
  EXPECT_TRUE(std::is_sorted(starts->begin(), starts->end()));
  EXPECT_LT(starts->back(), (*reader)->info().bytes_used);
}

TEST_F(DeltaFriendlyTest, ASmallChangeCostsASmallDownload) {
  auto entries = tree_entries();
  auto v1 = image("v1", entries);
  // v2: one new small file early in the data order, one changed tail and
  // one block of a large file changed.
  std::mt19937_64 rng(7);
  auto v2_entries = entries;
  v2_entries.insert(v2_entries.begin() + 3, TarEntry::file("d0/f003", test::word_text(rng, 3000)));
  size_t big = 0, small = 0;
  for (size_t i = 100; i < v2_entries.size() && (!big || !small); ++i) {
    size_t size = v2_entries[i].content.size();
    if (!big && size > 300000) big = i;
    if (!small && size > 0 && size < 10000) small = i;
  }
  ASSERT_TRUE(big && small);
  v2_entries[big].content.replace(140000, 20, "a changed sentence..");
  v2_entries[small].content += " appended";
  auto v2 = image("v2", v2_entries);

  auto blocks = plan(v1, v2, signing::ChunkAlgorithm::squashfs);
  auto bytes = plan(v1, v2, signing::ChunkAlgorithm::gear);
  std::cerr << "payload " << blocks.full_bytes << " B; sqfs-cdc-1 downloads "
            << blocks.download_bytes << " B in " << blocks.download_chunks << " chunks, gear-cdc-1 "
            << bytes.download_bytes << " B in " << bytes.download_chunks << " chunks\n";
  EXPECT_FALSE(blocks.full) << blocks.reason;
  // Three changed places: their blocks, the metadata tables and the verity
  // tree, a small part of the payload.
  EXPECT_LT(blocks.download_bytes, blocks.full_bytes / 10);
  EXPECT_LT(blocks.download_bytes, bytes.download_bytes);
  // Each changed place costs its own block (the inserted tail its fragment
  // block, not every later one), one more where a changed tail moved a
  // content-defined block boundary, plus the inode, directory and fragment
  // tables and the verity tree: 9 chunks, 236 KB. (Greedy packing resyncs
  // within a block or two here too: 9 chunks, 237 KB when fragment blocks
  // close only when full; closing on content bounds what one change costs
  // when tails line up worse.)
  EXPECT_LE(blocks.download_chunks, 9u);
  // The same image again costs nothing.
  EXPECT_EQ(plan(v2, v2, signing::ChunkAlgorithm::squashfs).download_bytes, 0u);
}

}  // namespace
}  // namespace ef::squashfs
