#include "util/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace ef {
namespace {

struct Unit {
  char name;
  int64_t seconds;
};
constexpr std::array<Unit, 4> kUnits{{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

Error bad(std::string_view text, const std::string& why) {
  return Error(
      Errc::invalid_argument,
      "'" + std::string(text) + "' is not a duration (like 90s, 15m, 4h, 1d or 1h30m): " + why);
}

}  // namespace

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) return bad(text, "it is empty");
  if (text[0] == '-') return bad(text, "it is negative");
  int64_t total = 0;
  size_t next_unit = 0;  // kUnits index the next part's unit must be at or after
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return bad(text, "expected a number before each unit");
    int64_t n = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return bad(text, "it is too large");
      n = n * 10 + (text[i] - '0');
    }
    if (i == text.size()) return bad(text, "the number at the end has no unit (s, m, h or d)");
    size_t u = 0;
    while (u < kUnits.size() && kUnits[u].name != text[i]) ++u;
    if (u == kUnits.size())
      return bad(text, "unknown unit '" + std::string(1, text[i]) + "' (use s, m, h or d)");
    if (u < next_unit) return bad(text, "units must appear once each, largest first (1h30m)");
    next_unit = u + 1;
    ++i;
    // Bound far below int64 seconds so callers can add durations to times.
    constexpr int64_t kMax = int64_t{1} << 40;  // about 34,800 years
    if (n > kMax / kUnits[u].seconds || total + n * kUnits[u].seconds > kMax)
      return bad(text, "it is too large");
    total += n * kUnits[u].seconds;
  }
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds d) {
  int64_t left = d.count();
  if (left == 0) return "0s";
  std::string out;
  for (const auto& unit : kUnits) {
    if (left >= unit.seconds) {
      out += std::to_string(left / unit.seconds) + unit.name;
      left %= unit.seconds;
    }
  }
  return out;
}

}  // namespace ef
