// Checks for single schema values (names, versions, modes, compressors).
// Each returns an empty string when the value is fine, or the reason it is
// not; the caller adds the location. Internal to ef_profile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ef::profile::detail {

/// metadata.name: [a-z0-9][a-z0-9._-]*, at most 128 characters.
std::string check_name(std::string_view name);

/// metadata.version: semver 2.0 (MAJOR.MINOR.PATCH[-pre][+build]).
std::string check_semver(std::string_view version);

/// Parses a file mode written as octal digits ("0644", "4755", 644), at most
/// 07777. Returns nullopt when the text is not such a mode.
std::optional<uint32_t> parse_mode(std::string_view text);

/// True for the compressors the image writer supports.
bool is_known_compression(std::string_view name);

/// Checks `level` against the range of `compression` (lz4 takes no level).
std::string check_level(std::string_view compression, int64_t level);

/// A path inside the image: absolute, no "..", not the root, no trailing
/// slash. On success `normalized` receives the lexically normal form.
std::string check_image_path(std::string_view path, std::string& normalized);

}  // namespace ef::profile::detail
