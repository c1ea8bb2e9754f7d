// Canonical JSON: the one byte sequence a JSON value signs as.
//
// Canonical form: UTF-8, no whitespace, object keys sorted by their UTF-8
// bytes, integers only (no fractions or exponents), strings escaped
// minimally (\" \\ \b \f \n \r \t, other control characters as \u00xx,
// everything else as itself). This is RFC 8785 (JCS) restricted to integers.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef {

struct JsonLimits {
  size_t max_bytes = 64 * 1024;  // the whole text
  size_t max_depth = 8;          // nested objects/arrays, the top level being 1
};

/// Parses `text` strictly and bounded: at most `limits.max_bytes`, nesting at
/// most `limits.max_depth`, valid UTF-8, no duplicate keys, no non-integer
/// numbers, and `text` must already be canonical. Each violation is its own
/// Errc::invalid_argument message naming the key path or byte offset, so the
/// caller can prefix where the text came from. Never throws.
Result<nlohmann::json> parse_canonical_json(std::string_view text, const JsonLimits& limits = {});

/// The canonical bytes of `value` (which must hold no floating-point numbers
/// and only valid UTF-8 strings; violations are Errc::invalid_argument).
Result<std::string> canonical_json(const nlohmann::json& value);

}  // namespace ef
