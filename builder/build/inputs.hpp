// Resolving a profile's inputs to local files (downloads, mmdebstrap) and
// merging them into a tree (internal to the build module).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/build/build.hpp"
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
  std::optional<fetch::FileIdentity> identity;  // set when the build must still hash the file
  nlohmann::json record;                        // what the manifest says about it
};

/// Lists every remote input missing from the cache, one line each with its
/// profile location: the base, the layers, then the Kubernetes artifacts
/// (`mirror`, from --artifact-mirror, overrides spec.artifactMirror).
/// Touches no network.
Result<std::vector<std::string>> missing_offline(const profile::Profile& profile,
                                                 const fetch::Cache& cache,
                                                 std::optional<int64_t> epoch,
                                                 const std::string& mirror);

/// Resolves the base and every layer to local files, downloading or running
/// mmdebstrap through the cache as needed. Index 0 is the base.
Result<std::vector<ResolvedInput>> resolve_inputs(const profile::Profile& profile,
                                                  fetch::Cache& cache,
                                                  std::optional<int64_t> epoch);

/// Merges the resolved inputs into `tree`, base first. Returns the tree's
/// layer number once the base is in (what later layers add is above it).
/// With `entry_indexes` (a directory; empty: none), a tarball whose sha256
/// is known goes through its entry index there (builder/tree/entry_index.hpp).
Result<uint32_t> compose_tree(const profile::Profile& profile,
                              const std::vector<ResolvedInput>& inputs, int64_t synthesized_mtime,
                              tree::Tree& tree, const std::filesystem::path& entry_indexes = {},
                              EntryIndexStats* index_stats = nullptr);

/// Hashes the local inputs whose digest is not known yet (those with
/// `identity` set) on a thread of its own, from when the inputs are resolved
/// until the manifest needs the digests. The thread reads each file itself,
/// so the threads that read the tree and feed the compressors never wait for
/// it, and it uses the core they leave idle (while the headers are read and
/// while the finished image is hashed).
class InputHasher {
 public:
  /// Starts hashing the pending inputs of `inputs`, in order.
  explicit InputHasher(const std::vector<ResolvedInput>& inputs);
  /// Stops early (an unfinished build) and joins the thread.
  ~InputHasher();
  InputHasher(const InputHasher&) = delete;
  InputHasher& operator=(const InputHasher&) = delete;

  /// Waits for the digests and records them in `inputs` (the same vector,
  /// unchanged in between) and in the cache's digest memo. A file whose
  /// identity changed since it was resolved is an error: the image may hold
  /// other bytes than the digest describes.
  Result<void> finish(std::vector<ResolvedInput>& inputs, const fetch::Cache& cache);

 private:
  void run(std::vector<std::filesystem::path> files);

  std::vector<size_t> indexes_;               // of the inputs being hashed
  std::vector<Result<std::string>> digests_;  // one per index, set by the thread
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ef::build
