#include "builder/profile/values.hpp"

#include "util/semver.hpp"

#include <filesystem>
#include <vector>

namespace ef::profile::detail {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
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
  if (SemVer::parse(version)) return "";
  return "is not a semantic version like 1.4.0 or 2.0.0-rc.1+build.5";
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
