#include "util/utc_time.hpp"

#include <chrono>
#include <cstdio>

namespace ef {

std::string format_utc(UnixSeconds t) {
  std::chrono::sys_seconds s{std::chrono::seconds(t)};
  auto day = std::chrono::floor<std::chrono::days>(s);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss hms{s - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

Result<UnixSeconds> parse_utc(std::string_view text) {
  auto bad = [&] {
    return Error(Errc::invalid_argument,
                 "\"" + std::string(text) + "\" is not a UTC time like 2026-12-05T23:00:00Z");
  };
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != kShape.size()) return bad();
  for (size_t i = 0; i < text.size(); ++i) {
    bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return bad();
  }
  auto num = [&](size_t at, size_t n) {
    int64_t v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  std::chrono::year_month_day date{std::chrono::year(static_cast<int>(num(0, 4))),
                                   std::chrono::month(static_cast<unsigned>(num(5, 2))),
                                   std::chrono::day(static_cast<unsigned>(num(8, 2)))};
  int64_t h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (!date.ok() || date.year() < std::chrono::year(1970) || h > 23 || mi > 59 || s > 59)
    return bad();
  return std::chrono::sys_days(date).time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s;
}

UnixSeconds now_utc() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ef
