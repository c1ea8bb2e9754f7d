// Durations as people write them in configuration files: "90s", "15m",
// "4h", "1d", "1h30m".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef {

/// Parses `text`: one or more <digits><unit> parts, units d, h, m, s, each at
/// most once and from largest to smallest ("1d12h", not "12h1d"); no signs,
/// spaces or fractions. Zero ("0s") is allowed; the caller decides whether it
/// makes sense. Errors are Errc::invalid_argument and quote `text`.
Result<std::chrono::seconds> parse_duration(std::string_view text);

/// The shortest text parse_duration() reads back as `d` ("1h30m", "0s");
/// `d` must not be negative.
std::string format_duration(std::chrono::seconds d);

}  // namespace ef
