#include "util/time_zone.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

namespace ef {

namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

// Far beyond any real time, yet safe to add offsets and days to.
constexpr int64_t kMinTime = -(int64_t{1} << 60);
constexpr int64_t kMaxTime = int64_t{1} << 60;
// UTC offsets beyond 26 hours are malformed (RFC 8536 allows -89999..93599).
constexpr int64_t kMaxOffset = 26 * 3600;

/// A day of the year in a POSIX TZ rule: Jn (1..365, February 29 never
/// counted), n (0..365, counted) or Mm.w.d (weekday d of week w, 5 = last).
struct RuleDay {
  enum class Kind { julian, zero_based, month_week_day } kind = Kind::month_week_day;
  int a = 0, b = 0, c = 0;

  sys_days in_year(int y) const {
    using namespace std::chrono;
    year yr{y};
    sys_days jan1 = sys_days(yr / January / 1);
    switch (kind) {
      case Kind::julian:
        return jan1 + days(a - 1 + (yr.is_leap() && a >= 60 ? 1 : 0));
      case Kind::zero_based:
        return jan1 + days(a);
      case Kind::month_week_day:
        break;
    }
    auto ym = yr / month(static_cast<unsigned>(a));
    weekday wd(static_cast<unsigned>(c));
    if (b == 5) return sys_days(ym / wd[last]);
    return sys_days(ym / wd[static_cast<unsigned>(b)]);
  }
};

/// A POSIX TZ string: standard offset and, with DST, when it starts and ends.
struct PosixRule {
  int64_t std_offset = 0;  // east positive, unlike the string
  std::optional<int64_t> dst_offset;
  RuleDay start, end;
  int64_t start_time = 7200, end_time = 7200;  // local time of day; may exceed a day
};

struct Segment {
  int64_t start, end;  // [start, end) in Unix seconds
  int64_t offset;
};

}  // namespace

struct TimeZone::Data {
  std::string name;
  std::vector<int64_t> transitions;  // ascending
  std::vector<int64_t> offsets;      // in effect from each transition
  int64_t initial_offset = 0;        // before the first transition
  std::optional<PosixRule> rule;     // after the last transition
};

namespace {

Error bad_zone(std::string_view name, const std::string& why) {
  return Error(Errc::invalid_argument, "time zone '" + std::string(name) + "': " + why);
}

// --- POSIX TZ strings (POSIX.1 "TZ", with RFC 8536's extensions) ---

class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  Result<PosixRule> parse() {
    PosixRule r;
    if (!name()) return fail("expected a zone abbreviation");
    EF_ASSIGN(auto std_off, offset(24));
    r.std_offset = -std_off;
    if (at_end()) return r;
    if (!name()) return fail("expected a DST abbreviation");
    r.dst_offset = r.std_offset + 3600;
    if (!at_end() && peek() != ',') {
      EF_ASSIGN(auto dst_off, offset(24));
      r.dst_offset = -dst_off;
    }
    if (at_end()) {
      // No rule: POSIX leaves it to the implementation; glibc uses US rules.
      r.start = {RuleDay::Kind::month_week_day, 3, 2, 0};
      r.end = {RuleDay::Kind::month_week_day, 11, 1, 0};
      return r;
    }
    if (!eat(',')) return fail("expected ',' before the DST start rule");
    EF_ASSIGN(r.start, rule_day());
    if (eat('/')) {
      EF_ASSIGN(r.start_time, offset(167));
    }
    if (!eat(',')) return fail("expected ',' before the DST end rule");
    EF_ASSIGN(r.end, rule_day());
    if (eat('/')) {
      EF_ASSIGN(r.end_time, offset(167));
    }
    if (!at_end()) return fail("unexpected text at the end");
    return r;
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  Error fail(const std::string& why) const {
    return Error(Errc::invalid_argument, "TZ string '" + std::string(s_) + "' at offset " +
                                             std::to_string(pos_) + ": " + why);
  }

  bool name() {
    size_t begin = pos_;
    if (eat('<')) {
      while (!at_end() && peek() != '>') ++pos_;
      return eat('>') && pos_ - begin > 2;
    }
    while (is_alpha(peek())) ++pos_;
    return pos_ - begin >= 3;
  }

  Result<int64_t> number(int64_t max) {
    if (!is_digit(peek())) return fail("expected a number");
    int64_t n = 0;
    while (is_digit(peek())) {
      n = n * 10 + (s_[pos_++] - '0');
      if (n > max) return fail("number out of range");
    }
    return n;
  }

  // [+-]hh[:mm[:ss]], as seconds; hours up to `max_hours`.
  Result<int64_t> offset(int64_t max_hours) {
    int64_t sign = eat('-') ? -1 : 1;
    if (sign == 1) eat('+');
    EF_ASSIGN(int64_t h, number(max_hours));
    int64_t m = 0, sec = 0;
    if (eat(':')) {
      EF_ASSIGN(m, number(59));
      if (eat(':')) {
        EF_ASSIGN(sec, number(59));
      }
    }
    return sign * (h * 3600 + m * 60 + sec);
  }

  Result<RuleDay> rule_day() {
    RuleDay d;
    if (eat('J')) {
      d.kind = RuleDay::Kind::julian;
      EF_ASSIGN(int64_t n, number(365));
      if (n < 1) return fail("Jn needs 1 <= n <= 365");
      d.a = static_cast<int>(n);
    } else if (eat('M')) {
      d.kind = RuleDay::Kind::month_week_day;
      EF_ASSIGN(int64_t m, number(12));
      if (!eat('.')) return fail("expected Mm.w.d");
      EF_ASSIGN(int64_t w, number(5));
      if (!eat('.')) return fail("expected Mm.w.d");
      EF_ASSIGN(int64_t wd, number(6));
      if (m < 1 || w < 1) return fail("Mm.w.d needs 1 <= m <= 12 and 1 <= w <= 5");
      d.a = static_cast<int>(m);
      d.b = static_cast<int>(w);
      d.c = static_cast<int>(wd);
    } else {
      d.kind = RuleDay::Kind::zero_based;
      EF_ASSIGN(int64_t n, number(365));
      d.a = static_cast<int>(n);
    }
    return d;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// The DST segment of `rule` holding `t` (the rule's transitions two years
// either side, so rules whose times run past midnight stay in order).
Segment rule_segment(const PosixRule& rule, int64_t t) {
  if (!rule.dst_offset) return {kMinTime, kMaxTime, rule.std_offset};
  // Years outside the calendar's range repeat the edge years' offset.
  constexpr int64_t kRuleLimit = int64_t{1} << 37;  // about year 6300
  int64_t tc = std::clamp(t, -kRuleLimit, kRuleLimit);
  auto day = std::chrono::floor<days>(sys_seconds(seconds(tc + rule.std_offset)));
  int y = static_cast<int>(std::chrono::year_month_day(day).year());
  struct Change {
    int64_t at;
    int64_t offset;
  };
  std::vector<Change> changes;
  for (int year = y - 2; year <= y + 2; ++year) {
    int64_t start = rule.start.in_year(year).time_since_epoch().count() * 86400 + rule.start_time;
    int64_t end = rule.end.in_year(year).time_since_epoch().count() * 86400 + rule.end_time;
    changes.push_back({start - rule.std_offset, *rule.dst_offset});
    changes.push_back({end - *rule.dst_offset, rule.std_offset});
  }
  // Ties (DST all year) keep year order, so a year's start follows the
  // previous year's end at the same instant.
  std::stable_sort(changes.begin(), changes.end(),
                   [](const Change& a, const Change& b) { return a.at < b.at; });
  auto after = std::upper_bound(changes.begin(), changes.end(), tc,
                                [](int64_t v, const Change& c) { return v < c.at; });
  Segment s{after == changes.begin() ? kMinTime : std::prev(after)->at,
            after == changes.end() ? kMaxTime : after->at,
            after == changes.begin() ? changes.front().offset : std::prev(after)->offset};
  if (t > tc) s.end = kMaxTime;
  if (t < tc) s.start = kMinTime;
  return s;
}

Segment segment_at(const TimeZone::Data& z, int64_t t) {
  const auto& tr = z.transitions;
  if (tr.empty())
    return z.rule ? rule_segment(*z.rule, t) : Segment{kMinTime, kMaxTime, z.initial_offset};
  if (t < tr.front()) return {kMinTime, tr.front(), z.initial_offset};
  size_t i = static_cast<size_t>(std::upper_bound(tr.begin(), tr.end(), t) - tr.begin()) - 1;
  if (i + 1 < tr.size()) return {tr[i], tr[i + 1], z.offsets[i]};
  if (!z.rule) return {tr[i], kMaxTime, z.offsets[i]};
  Segment s = rule_segment(*z.rule, t);
  s.start = std::max(s.start, tr[i]);
  return s;
}

// --- TZif (RFC 8536) ---

class TzifReader {
 public:
  TzifReader(std::string_view data, std::string_view name) : d_(data), name_(name) {}

  Result<TimeZone::Data> read() {
    EF_ASSIGN(auto h1, header());
    TimeZone::Data z;
    z.name = std::string(name_);
    if (h1.version < 2) {
      EF_TRY(block(h1, 4, z));
      return z;
    }
    EF_TRY(skip(h1.timecnt * 5 + h1.typecnt * 6 + h1.charcnt + h1.leapcnt * 8 + h1.isstdcnt +
                h1.isutcnt));
    EF_ASSIGN(auto h2, header());
    EF_TRY(block(h2, 8, z));
    if (!take('\n')) return bad("no POSIX TZ footer after the version 2+ data");
    size_t end = d_.find('\n', pos_);
    if (end == std::string_view::npos) return bad("the POSIX TZ footer is not terminated");
    std::string_view footer = d_.substr(pos_, end - pos_);
    if (!footer.empty()) {
      auto rule = PosixParser(footer).parse();
      if (!rule) return bad(rule.error().message());
      z.rule = *rule;
    }
    return z;
  }

 private:
  struct Header {
    int version = 0;
    uint64_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
  };

  Error bad(const std::string& why) const { return bad_zone(name_, "not a TZif file: " + why); }

  bool take(char c) {
    if (pos_ >= d_.size() || d_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  Result<void> skip(uint64_t n) {
    if (n > d_.size() - pos_) return bad("truncated");
    pos_ += n;
    return Ok{};
  }
  // Big-endian, two's complement for times and offsets.
  Result<int64_t> be(int bytes) {
    if (static_cast<size_t>(bytes) > d_.size() - pos_) return bad("truncated");
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(d_[pos_++]);
    if (bytes < 8 && (v >> (bytes * 8 - 1)) != 0) v |= ~uint64_t{0} << (bytes * 8);
    return static_cast<int64_t>(v);
  }

  Result<Header> header() {
    if (d_.substr(pos_, 4) != "TZif") return bad("no TZif magic");
    pos_ += 4;
    if (pos_ >= d_.size()) return bad("truncated");
    char v = d_[pos_];
    Header h;
    h.version = v == 0 ? 1 : v - '0';
    if (h.version < 1 || h.version > 4) return bad("unknown version");
    EF_TRY(skip(16));
    std::array<uint64_t*, 6> counts{&h.isutcnt, &h.isstdcnt, &h.leapcnt,
                                    &h.timecnt, &h.typecnt,  &h.charcnt};
    for (auto* c : counts) {
      EF_ASSIGN(int64_t n, be(4));
      if (n < 0 || n > (1 << 20)) return bad("implausible count");
      *c = static_cast<uint64_t>(n);
    }
    if (h.leapcnt != 0)
      return bad_zone(name_, "leap-second zones (right/...) are not supported; use the plain name");
    if (h.typecnt == 0) return bad("no local time types");
    return h;
  }

  Result<void> block(const Header& h, int time_bytes, TimeZone::Data& z) {
    for (uint64_t i = 0; i < h.timecnt; ++i) {
      EF_ASSIGN(int64_t t, be(time_bytes));
      if (!z.transitions.empty() && t <= z.transitions.back())
        return bad("transition times are not ascending");
      z.transitions.push_back(t);
    }
    std::vector<uint64_t> type_of(h.timecnt);
    for (auto& idx : type_of) {
      EF_ASSIGN(int64_t n, be(1));
      idx = static_cast<uint8_t>(n);
      if (idx >= h.typecnt) return bad("transition to an unknown local time type");
    }
    std::vector<int64_t> utoff(h.typecnt);
    for (auto& off : utoff) {
      EF_ASSIGN(off, be(4));
      if (off < -kMaxOffset || off > kMaxOffset) return bad("UTC offset out of range");
      EF_TRY(skip(2));  // isdst, abbreviation index
    }
    EF_TRY(skip(h.charcnt + h.isstdcnt + h.isutcnt));
    z.initial_offset = utoff[0];
    for (auto idx : type_of) z.offsets.push_back(utoff[idx]);
    return Ok{};
  }

  std::string_view d_;
  std::string_view name_;
  size_t pos_ = 0;
};

Result<void> check_zone_name(std::string_view name) {
  if (name.empty()) return bad_zone(name, "the name is empty");
  if (name.front() == '/' || name == ".." || name.starts_with("../") || name.ends_with("/..") ||
      name.find("/../") != std::string_view::npos)
    return bad_zone(name, "a zone name must not start with '/' or contain '..'");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/' || c == '.';
    if (!ok) return bad_zone(name, "not an IANA zone name (like Europe/Berlin)");
  }
  return Ok{};
}

}  // namespace

TimeZone TimeZone::utc() {
  static const auto data = [] {
    auto d = std::make_shared<Data>();
    d->name = "UTC";
    return d;
  }();
  return TimeZone(data);
}

Result<TimeZone> TimeZone::load(std::string_view name, const std::filesystem::path& zoneinfo_dir) {
  EF_TRY(check_zone_name(name));
  std::filesystem::path path = zoneinfo_dir / std::string(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Error(Errc::not_found, "time zone '" + std::string(name) + "': no such zone in " +
                                      zoneinfo_dir.string() + " (is tzdata installed?)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error(Errc::io, "opening " + path.string(), errno);
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) return errno_error(Errc::io, "reading " + path.string(), errno);
  return from_tzif(data.str(), std::string(name));
}

Result<TimeZone> TimeZone::from_tzif(std::string_view data, std::string name) {
  EF_ASSIGN(auto z, TzifReader(data, name).read());
  return TimeZone(std::make_shared<const Data>(std::move(z)));
}

Result<TimeZone> TimeZone::from_posix(std::string_view tz) {
  EF_ASSIGN(auto rule, PosixParser(tz).parse());
  auto d = std::make_shared<Data>();
  d->name = std::string(tz);
  d->initial_offset = rule.std_offset;
  d->rule = rule;
  return TimeZone(std::move(d));
}

const std::string& TimeZone::name() const {
  return data_->name;
}

std::chrono::seconds TimeZone::offset_at(sys_seconds t) const {
  return seconds(segment_at(*data_, t.time_since_epoch().count()).offset);
}

std::chrono::local_seconds TimeZone::to_local(sys_seconds t) const {
  return std::chrono::local_seconds(t.time_since_epoch() + offset_at(t));
}

sys_seconds TimeZone::first_at_or_after(std::chrono::local_seconds local) const {
  int64_t x = std::clamp<int64_t>(local.time_since_epoch().count(), kMinTime / 2, kMaxTime / 2);
  // Every instant before this reads earlier than `x` on the local clock.
  Segment s = segment_at(*data_, x - 2 * kMaxOffset);
  // A segment's wall clock runs from start + offset to end + offset; the
  // first segment whose clock passes `x` holds the answer.
  while (s.end != kMaxTime && s.end + s.offset <= x) s = segment_at(*data_, s.end);
  return sys_seconds(seconds(std::max(s.start, x - s.offset)));
}

}  // namespace ef
