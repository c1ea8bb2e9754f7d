// Tarball layers (plain or compressed: libarchive detects it) merged by the
// tree builder, whiteouts and hard links included, then their file data
// streamed as the image writer takes it. Input: up to three layers cut at
// "#@layer#@layer#@"; layer order matters for whiteouts and later-wins.
#include <filesystem>
#include <string>

#include "builder/tree/data_stream.hpp"
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
