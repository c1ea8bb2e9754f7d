#include "util/semver.hpp"

#include <algorithm>
#include <charconv>

namespace ef {
namespace {

Error bad(std::string_view text, const std::string& why) {
  return Error(Errc::invalid_argument, "'" + std::string(text) +
                                           "' is not a semantic version (MAJOR.MINOR.PATCH, e.g. "
                                           "1.4.0): " +
                                           why);
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_identifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

Result<uint64_t> parse_number(std::string_view whole, std::string_view part, const char* what) {
  if (!is_digits(part)) return bad(whole, std::string(what) + " is not a number");
  if (part.size() > 1 && part[0] == '0')
    return bad(whole, std::string(what) + " has a leading zero");
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
  if (ec != std::errc() || ptr != part.data() + part.size()) {
    return bad(whole, std::string(what) + " is too large");
  }
  return value;
}

std::strong_ordering compare_identifier(const std::string& a, const std::string& b) {
  bool an = is_digits(a), bn = is_digits(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() <=> b.size();  // no leading zeros: longer is larger
    return a.compare(b) <=> 0;
  }
  if (an != bn) return an ? std::strong_ordering::less : std::strong_ordering::greater;
  return a.compare(b) <=> 0;
}

}  // namespace

Result<SemVer> SemVer::parse(std::string_view text) {
  SemVer v;
  std::string_view rest = text;
  if (size_t plus = rest.find('+'); plus != std::string_view::npos) {
    std::string_view build = rest.substr(plus + 1);
    for (auto id : split(build, '.')) {
      if (!is_identifier(id)) return bad(text, "bad build metadata");
    }
    v.build = std::string(build);
    rest = rest.substr(0, plus);
  }
  if (size_t dash = rest.find('-'); dash != std::string_view::npos) {
    for (auto id : split(rest.substr(dash + 1), '.')) {
      if (!is_identifier(id)) return bad(text, "bad pre-release identifier");
      if (is_digits(id) && id.size() > 1 && id[0] == '0') {
        return bad(text, "pre-release number has a leading zero");
      }
      v.prerelease.emplace_back(id);
    }
    rest = rest.substr(0, dash);
  }
  auto core = split(rest, '.');
  if (core.size() != 3) return bad(text, "expected three dot-separated numbers");
  EF_ASSIGN(v.major, parse_number(text, core[0], "major"));
  EF_ASSIGN(v.minor, parse_number(text, core[1], "minor"));
  EF_ASSIGN(v.patch, parse_number(text, core[2], "patch"));
  return v;
}

std::string SemVer::str() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + prerelease[i];
  if (!build.empty()) s += "+" + build;
  return s;
}

std::strong_ordering operator<=>(const SemVer& a, const SemVer& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  if (a.prerelease.empty() != b.prerelease.empty()) {
    return a.prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
  }
  size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < n; ++i) {
    if (auto c = compare_identifier(a.prerelease[i], b.prerelease[i]); c != 0) return c;
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

Result<std::optional<SemVer>> SemVer::parse_option(std::string_view text, std::string_view option) {
  if (text.empty()) return std::optional<SemVer>{};
  auto v = parse(text);
  if (!v) return v.error().with_context(std::string(option));
  return std::optional<SemVer>(*v);
}

}  // namespace ef
