// Loading, validating and merging profile YAML files.
#pragma once

#include <filesystem>

#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::profile {

/// Loads `file`, follows `spec.extends` (depth-first, cycles are errors),
/// validates every key against the schema and merges: later wins for
/// scalars and maps, lists append. Checks that local input files exist.
/// Errors are Errc::invalid_profile (or not_found) and start with
/// "file:line:column: ".
Result<Profile> load_profile(const std::filesystem::path& file);

}  // namespace ef::profile
