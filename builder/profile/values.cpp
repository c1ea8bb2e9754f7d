#include "builder/profile/values.hpp"

#include <filesystem>
#include <vector>

namespace ef::profile::detail {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

// A numeric semver identifier: digits without a leading zero ("0" is fine).
bool is_numeric_id(std::string_view s) {
  return !s.empty() && all_of(s, is_digit) && (s.size() == 1 || s[0] != '0');
}

}  // namespace

std::string check_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 128) return "is longer than 128 characters";
  if (!is_lower_alnum(name[0])) return "must start with a lower-case letter or digit";
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '.' && c != '_' && c != '-') {
      return "may only contain a-z, 0-9, '.', '_' and '-' (it becomes a file name)";
    }
  }
  return "";
}

std::string check_semver(std::string_view version) {
  const std::string expected = "is not a semantic version like 1.4.0 or 2.0.0-rc.1+build.5";
  std::string_view core = version;
  std::string_view pre, build;
  if (auto plus = core.find('+'); plus != std::string_view::npos) {
    build = core.substr(plus + 1);
    core = core.substr(0, plus);
    for (auto id : split(build, '.')) {
      if (id.empty() || !all_of(id, is_ident_char)) return expected;
    }
  }
  if (auto dash = core.find('-'); dash != std::string_view::npos) {
    pre = core.substr(dash + 1);
    core = core.substr(0, dash);
    for (auto id : split(pre, '.')) {
      if (id.empty() || !all_of(id, is_ident_char)) return expected;
      if (all_of(id, is_digit) && !is_numeric_id(id)) return expected;
    }
  }
  auto nums = split(core, '.');
  if (nums.size() != 3) return expected;
  for (auto n : nums) {
    if (!is_numeric_id(n)) return expected;
  }
  return "";
}

std::optional<uint32_t> parse_mode(std::string_view text) {
  if (text.empty() || text.size() > 6) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) return std::nullopt;
  return mode;
}

bool is_known_compression(std::string_view name) {
  return name == "zstd" || name == "xz" || name == "gzip" || name == "lz4";
}

std::string check_level(std::string_view compression, int64_t level) {
  int64_t lo = 0, hi = 0;
  if (compression == "zstd") {
    lo = 1, hi = 22;
  } else if (compression == "xz") {
    lo = 0, hi = 9;
  } else if (compression == "gzip") {
    lo = 1, hi = 9;
  } else {
    // squashfs' lz4 has no numeric level (only a high-compression flag).
    return std::string(compression) + " takes no level; remove spec.output.level";
  }
  if (level >= lo && level <= hi) return "";
  return std::to_string(level) + " is out of range for " + std::string(compression) + " (" +
         std::to_string(lo) + ".." + std::to_string(hi) + ")";
}

std::string check_image_path(std::string_view path, std::string& normalized) {
  if (path.empty() || path[0] != '/') return "must be an absolute path inside the image";
  if (path.find('\0') != std::string_view::npos) return "must not contain a NUL byte";
  for (auto part : split(path, '/')) {
    if (part == "..") return "must not contain '..' components";
  }
  normalized = std::filesystem::path(path).lexically_normal().string();
  if (normalized == "/") return "must name a file, not the root directory";
  // "/etc/" or "/etc/." name a directory, not a file.
  if (path.back() == '/' || normalized.back() == '/') return "must name a file, not end with '/'";
  return "";
}

}  // namespace ef::profile::detail
