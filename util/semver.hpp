// Semantic versions (semver.org 2.0.0): parsing and precedence.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ef {

struct SemVer {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers, empty for a release
  std::string build;                    // after '+'; ignored for precedence

  /// Parses "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" exactly as semver.org
  /// defines it (no leading 'v', no leading zeros); anything else is
  /// Errc::invalid_argument naming the offending text.
  static Result<SemVer> parse(std::string_view text);

  /// An option's value ("--min-version"): parse(), with errors starting
  /// with the option; empty text is nullopt (the option was not given).
  static Result<std::optional<SemVer>> parse_option(std::string_view text, std::string_view option);

  /// The canonical text form (what parse() accepted).
  std::string str() const;
};

/// Semver precedence: build metadata is ignored, a pre-release sorts before
/// its release, numeric identifiers compare numerically and before
/// alphanumeric ones.
std::strong_ordering operator<=>(const SemVer& a, const SemVer& b);
inline bool operator==(const SemVer& a, const SemVer& b) {
  return (a <=> b) == std::strong_ordering::equal;
}

}  // namespace ef
