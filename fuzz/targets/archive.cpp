// Tarball layers (plain or compressed: libarchive detects it) merged by the
// tree builder, whiteouts and hard links included, then their file data
// streamed as the image writer takes it. Input: up to three layers cut at
// "#@layer#@layer#@"; layer order matters for whiteouts and later-wins.
// Each layer's entries also go through an entry index (the cache's copy of
// an archive's headers) and must come back exactly as they went in.
#include <filesystem>
#include <string>
#include <vector>

#include "builder/tree/archive_reader.hpp"
#include "builder/tree/data_stream.hpp"
#include "builder/tree/entry_index.hpp"
#include "builder/tree/inputs.hpp"
#include "builder/tree/tree.hpp"
#include "fuzz/support.hpp"

namespace {

// Counts each file's bytes and checks they are the size the tree recorded.
class CheckingSink : public ef::tree::FileSink {
 public:
  ef::Result<void> begin_file(ef::tree::Inode& inode) override {
    expected_ = inode.size;
    got_ = 0;
    return ef::Ok{};
  }
  ef::Result<void> append(const void*, size_t size) override {
    got_ += size;
    EF_FUZZ_CHECK(got_ <= expected_);
    return ef::Ok{};
  }
  ef::Result<void> end_file() override {
    EF_FUZZ_CHECK(got_ == expected_);
    return ef::Ok{};
  }

 private:
  uint64_t expected_ = 0, got_ = 0;
};

bool same_entry(const ef::tree::ArchiveEntry& a, const ef::tree::ArchiveEntry& b) {
  return a.path == b.path && a.hardlink == b.hardlink && a.has_data == b.has_data &&
         a.offset == b.offset && a.inode.type == b.inode.type && a.inode.mode == b.inode.mode &&
         a.inode.uid == b.inode.uid && a.inode.gid == b.inode.gid &&
         a.inode.mtime == b.inode.mtime && a.inode.size == b.inode.size &&
         a.inode.rdev == b.inode.rdev && a.inode.target == b.inode.target &&
         a.inode.xattrs == b.inode.xattrs;
}

// The archive's first entries (at most kRoundTripEntries: the tree stops at
// the first bad entry, and a garbage stream can yield thousands before an
// error, which made this check 80 % of a run), through an entry index and
// back.
constexpr size_t kRoundTripEntries = 256;

void check_index_round_trip(const ef::tree::SourceInfo& source) {
  auto reader = ef::tree::ArchiveReader::open(source);
  if (!reader) return;
  std::vector<ef::tree::ArchiveEntry> entries;
  ef::tree::EntryIndexWriter writer;
  while (entries.size() < kRoundTripEntries) {
    ef::tree::ArchiveEntry e;
    auto more = (*reader)->next(e);
    if (!more || !*more) break;
    writer.add(e);
    entries.push_back(std::move(e));
  }
  const std::string bytes = writer.finish();
  auto index = ef::tree::EntryIndexReader::open(bytes, "fuzz.idx");
  EF_FUZZ_CHECK(index.ok());
  for (const auto& expected : entries) {
    ef::tree::ArchiveEntry got;
    auto more = index->next(got);
    EF_FUZZ_CHECK(more.ok() && *more);
    EF_FUZZ_CHECK(same_entry(got, expected));
  }
  ef::tree::ArchiveEntry past;
  auto end = index->next(past);
  EF_FUZZ_CHECK(end.ok() && !*end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto layers = ef::fuzz::split_parts(ef::fuzz::as_view(data, size), "#@layer#@layer#@", 3);
  ef::tree::Tree tree(1747699200);
  for (size_t i = 0; i < layers.size(); ++i) {
    auto file = ef::fuzz::scratch_dir() / ("layer" + std::to_string(i) + ".tar");
    ef::fuzz::write_file(file, layers[i]);
    tree.begin_layer();
    ef::tree::SourceInfo source;
    source.path = file.string();
    source.label = "layer " + std::to_string(i + 1) + " (tarball layer.tar)";
    check_index_round_trip(source);
    auto applied = ef::tree::apply_archive(tree, source);
    ef::fuzz::trace("apply_archive", applied);
    if (!applied) return 0;
  }
  (void)tree.stats();
  tree.clamp_mtimes(1747699200);
  CheckingSink sink;
  ef::fuzz::trace("stream_file_data", ef::tree::stream_file_data(tree, sink));
  return 0;
}
