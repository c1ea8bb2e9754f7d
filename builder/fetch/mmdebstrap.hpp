// Bases made by the installed `mmdebstrap` tool, cached by recipe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/fetch/cache.hpp"
#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::fetch {

/// The cache key of a recipe: sha256 over a canonical text of every field
/// that changes the result (suite, variant, arch, components, sorted
/// packages, mirror, epoch).
std::string mmdebstrap_cache_key(const profile::MmdebstrapRecipe& recipe,
                                 std::optional<int64_t> epoch);

/// The mmdebstrap command line that writes `recipe` to `output` (a path
/// ending in .tar: mmdebstrap picks the format from the extension).
std::vector<std::string> mmdebstrap_command(const profile::MmdebstrapRecipe& recipe,
                                            const std::filesystem::path& output);

/// Returns the path of a tarball for `recipe`, running
/// `mmdebstrap --variant=V --include=P... SUITE OUT.tar [MIRROR]` only when
/// the cache lacks it. SOURCE_DATE_EPOCH is passed when `epoch` is set so the
/// tarball is reproducible. The tool's stderr tail is in the error on failure.
Result<std::filesystem::path> materialize_mmdebstrap(Cache& cache,
                                                     const profile::MmdebstrapRecipe& recipe,
                                                     std::optional<int64_t> epoch);

}  // namespace ef::fetch
