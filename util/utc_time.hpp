// UTC timestamps as signed documents write them: RFC 3339 in the one form
// "YYYY-MM-DDTHH:MM:SSZ" (no fractions, no offsets), so a time has exactly
// one spelling and canonical JSON stays canonical.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef {

/// Seconds since 1970-01-01T00:00:00Z.
using UnixSeconds = int64_t;

/// "2026-12-05T23:00:00Z" for `t` (years 1970 to 9999).
std::string format_utc(UnixSeconds t);

/// Strict inverse of format_utc: anything else (offsets, fractions, a 61st
/// second, February 30th) is Errc::invalid_argument quoting the text.
Result<UnixSeconds> parse_utc(std::string_view text);

/// The current time (the system clock).
UnixSeconds now_utc();

}  // namespace ef
