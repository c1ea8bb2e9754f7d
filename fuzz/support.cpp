#include "fuzz/support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

namespace ef::fuzz {
namespace {

std::filesystem::path make_scratch() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/edgeforge-fuzz-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("edgeforge fuzz: mkdtemp");
    std::abort();
  }
  return pattern;
}

std::filesystem::path& scratch_path() {
  static std::filesystem::path path = make_scratch();
  return path;
}

void remove_scratch() {
  std::error_code ec;
  std::filesystem::remove_all(scratch_path(), ec);
}

}  // namespace

const std::filesystem::path& scratch_dir() {
  static const bool registered = [] {
    (void)scratch_path();
    std::atexit(remove_scratch);
    return true;
  }();
  (void)registered;
  return scratch_path();
}

void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "edgeforge fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::vector<std::string_view> split_parts(std::string_view data, std::string_view separator,
                                          size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = data.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + separator.size());
  }
  parts.push_back(data);
  return parts;
}

bool tracing() {
  static const bool on = std::getenv("EF_FUZZ_TRACE") != nullptr;
  return on;
}

void trace_line(const char* step, const std::string* error) {
  std::fprintf(stderr, "  %s: %s\n", step, error == nullptr ? "ok" : error->c_str());
}

void invariant_failed(const char* what) {
  std::fprintf(stderr, "edgeforge fuzz: invariant does not hold: %s\n", what);
  std::abort();
}

}  // namespace ef::fuzz
