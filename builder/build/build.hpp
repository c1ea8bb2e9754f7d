// `edgeforge build`: profile -> inputs -> tree -> squashfs image + manifest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/build/bundle_output.hpp"
#include "builder/fetch/cache.hpp"
#include "builder/profile/profile.hpp"
#include "builder/sbom/sbom.hpp"
#include "builder/squashfs/block_cache.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::build {

/// A progress report: what the build is doing and, for the data pass, how
/// far it is (bytes of file data written out of the total).
struct Progress {
  std::string stage;  // "resolving inputs", "reading layers", "writing image", ...
  uint64_t done = 0;
  uint64_t total = 0;
};

struct BuildOptions {
  std::filesystem::path profile;
  std::filesystem::path output_dir = "out";
  fetch::CacheOptions cache;
  unsigned workers = 0;                      // 0: one per CPU
  std::optional<int64_t> source_date_epoch;  // SOURCE_DATE_EPOCH, when set
  std::string artifact_mirror;               // --artifact-mirror; overrides spec.artifactMirror
  std::function<void(const Progress&)> progress;
  /// --format: output formats (squashfs, raw, qcow2, iso); empty: the
  /// profile's spec.output.formats. Errors about one of them name --format.
  std::vector<std::string> formats;
  /// --agent-binary: the edgeforge-agent to put into the image; empty:
  /// $EDGEFORGE_AGENT, else beside this program (docs/agent.md).
  std::string agent_binary;
  /// --sign-key: their public halves go into the image's keyring, and the
  /// build also writes a bundle (.efb) signed with them.
  std::vector<std::string> sign_keys;
  signing::Passphrase passphrase;
  /// --sbom-format: the SBOM written beside the image (and into the bundle).
  sbom::Format sbom_format = sbom::Format::spdx;
  /// The block cache (<cache dir>/blocks, docs/cache.md) and the entry
  /// indexes of tarball inputs (<cache dir>/trees); --no-cache turns both
  /// off, --cache-max-size bounds the block cache (pruned after a build that
  /// added to it).
  bool block_cache = true;
  uint64_t block_cache_max_bytes = squashfs::kDefaultBlockCacheBytes;
};

/// How long one stage of the build took.
struct StageTime {
  std::string stage;
  double seconds = 0;
};

/// What the entry indexes (<cache dir>/trees, docs/cache.md) did: counts of
/// tarball inputs.
struct EntryIndexStats {
  uint32_t used = 0;     // trees made from an index, without reading the archive
  uint32_t written = 0;  // archives read and their index kept for next time
};

/// The outputs' paths are in BuildOptions::output_dir as given (relative
/// when it is).
struct BuildResult {
  std::filesystem::path image;
  std::filesystem::path manifest;
  std::filesystem::path sbom;        // <name>-<version>.spdx.json (or .cdx.json)
  std::filesystem::path provenance;  // <name>-<version>.provenance.json
  std::string image_sha256;
  uint64_t image_size = 0;
  nlohmann::json manifest_json;
  /// Disk images written besides the squashfs (raw, qcow2).
  std::vector<std::filesystem::path> outputs;
  std::optional<BundleResult> bundle;  // with BuildOptions::sign_keys
  /// What the block cache did (unset with --no-cache), and the prune after it.
  std::optional<squashfs::BlockCacheStats> block_cache;
  std::optional<squashfs::PruneResult> block_cache_prune;
  /// Unset with --no-cache (the tree is then read from every archive).
  std::optional<EntryIndexStats> entry_index;
  std::vector<StageTime> stages;  // in order
};

/// Runs the whole build. The outputs (image, manifest, disk images, ISO,
/// bundle) appear together, only when every one of them was written: they
/// are staged in the output directory and renamed into place at the end, so
/// a failed build leaves no output and keeps an earlier build's files.
Result<BuildResult> build_image(const BuildOptions& options);

/// Loads and validates a profile and checks that every input is available
/// (local files exist; with `cache.offline`, remote inputs are cached)
/// without building anything. Returns the merged profile.
Result<profile::Profile> validate_profile(const std::filesystem::path& file,
                                          const fetch::CacheOptions& cache);

/// The epoch the build uses: SOURCE_DATE_EPOCH, else metadata.epoch.
std::optional<int64_t> resolve_epoch(const profile::Profile& profile,
                                     std::optional<int64_t> source_date_epoch);

}  // namespace ef::build
