// Resolving a profile's inputs to local files (downloads, mmdebstrap) and
// merging them into a tree (internal to the build module).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/fetch/cache.hpp"
#include "builder/profile/profile.hpp"
#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::build {

/// One input after resolution: where its bytes are on this machine.
struct ResolvedInput {
  std::string role;             // "base", "layer 2"
  std::string kind;             // tarball, oci, mmdebstrap, directory, files
  std::filesystem::path local;  // file or directory to read
  std::string sha256;           // of the file; empty for directories and inline files
  std::optional<fetch::FileIdentity> identity;  // set when the data pass must hash the file
  nlohmann::json record;        // what the manifest says about it
};

/// Lists every remote input missing from the cache, one line each.
std::vector<std::string> missing_offline(const profile::Profile& profile, const fetch::Cache& cache,
                                         std::optional<int64_t> epoch);

/// Resolves the base and every layer to local files, downloading or running
/// mmdebstrap through the cache as needed. Index 0 is the base.
Result<std::vector<ResolvedInput>> resolve_inputs(const profile::Profile& profile,
                                                  fetch::Cache& cache,
                                                  std::optional<int64_t> epoch);

/// Merges the resolved inputs into `tree`, base first.
Result<void> compose_tree(const profile::Profile& profile, const std::vector<ResolvedInput>& inputs,
                          int64_t synthesized_mtime, tree::Tree& tree);

/// Records the digests computed while writing the image (indexed like
/// Tree::sources()) for inputs that were not hashed before, and remembers
/// them in the cache's digest memo for later builds.
void fill_digests(const tree::Tree& tree, const std::vector<std::string>& digests,
                  std::vector<ResolvedInput>& inputs, const fetch::Cache& cache);

}  // namespace ef::build
