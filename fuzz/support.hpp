// Helpers shared by the fuzz targets (fuzz/targets/*.cpp): a scratch
// directory per process for parsers that read files, and splitting one input
// into the several files or parts a parser reads together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ef::fuzz {

/// A directory private to this process (under $TMPDIR, else /tmp), created
/// on first use and removed at exit. Targets write their input files there.
const std::filesystem::path& scratch_dir();

/// Replaces `path` with `bytes` (a plain write: the scratch directory is
/// private, so no temporary name is needed).
void write_file(const std::filesystem::path& path, std::string_view bytes);

/// `data` cut at every occurrence of `separator` (which is dropped), at most
/// `max_parts` parts (the last keeps any further separators).
std::vector<std::string_view> split_parts(std::string_view data, std::string_view separator,
                                          size_t max_parts);

/// The input as a string_view.
inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Whether EF_FUZZ_TRACE is set: targets then say how far each input got
/// (for checking that seeds reach the code behind the first checks).
bool tracing();
void trace_line(const char* step, const std::string* error);

/// With EF_FUZZ_TRACE set, prints "STEP: ok" or "STEP: the error".
template <typename R>
void trace(const char* step, const R& result) {
  if (!tracing()) return;
  trace_line(step, result ? nullptr : &result.error().message());
}

/// Stops the run (a crash libFuzzer reports with the input) when an
/// invariant the target checks does not hold, naming it.
[[noreturn]] void invariant_failed(const char* what);

/// Parses `bytes` with `parse` (traced as `step`) and, when they parse,
/// checks that `encode` (returning a Result<std::string>) gives exactly
/// `bytes` back: what a strict parser accepts is its encoder's output.
/// Returns what `parse` returned.
template <typename Parse, typename Encode>
auto check_round_trip(const char* step, std::string_view bytes, Parse parse, Encode encode) {
  auto parsed = parse(bytes);
  trace(step, parsed);
  if (parsed) {
    auto again = encode(*parsed);
    if (!again || *again != bytes) invariant_failed("what parses encodes to the same bytes");
  }
  return parsed;
}

}  // namespace ef::fuzz

/// Checks an invariant of the code under test (not of the input).
#define EF_FUZZ_CHECK(cond)                           \
  do {                                                \
    if (!(cond)) ::ef::fuzz::invariant_failed(#cond); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
