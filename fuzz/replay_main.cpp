// Runs a fuzz target over files, without libFuzzer: how the normal test
// suite (any compiler, with or without sanitizers) replays the seed corpus
// and the inputs that once crashed a target (fuzz/regressions/TARGET/).
// Usage: fuzz_TARGET_replay PATH... (files, or directories read in name order)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/support.hpp"

namespace {

bool run_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", file.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay %s (%zu bytes)\n", file.c_str(), bytes.size());
  // A copy of exactly the input's size, so ASan sees reads past its end.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  auto* data = input.empty() ? nullptr : input.data();
  LLVMFuzzerTestOneInput(data, input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        ok = run_file(f) && ok;
        ++count;
      }
    } else if (std::filesystem::exists(arg, ec)) {
      ok = run_file(arg) && ok;
      ++count;
    }
  }
  std::fprintf(stderr, "replayed %zu inputs\n", count);
  if (count == 0) {
    std::fprintf(stderr, "no inputs found: give files or directories\n");
    return 2;
  }
  return ok ? 0 : 1;
}
