// The content-addressed download cache (default ~/.cache/edgeforge).
//
// Layout:
//   <dir>/blobs/sha256/<hex>          verified downloads, named by their digest
//   <dir>/keyed/<key-hex>.tar         generated inputs (mmdebstrap bases), named
//                                     by the sha256 of their recipe
//   <dir>/digests/<path-hash>         sha256 of local inputs by file identity
//   <dir>/tmp/                        partial downloads (resumed on retry)
// Nothing lands under blobs/ or keyed/ unless complete and verified.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "builder/fetch/digest_memo.hpp"
#include "util/error.hpp"

namespace ef::fetch {

struct CacheOptions {
  std::filesystem::path dir;  // empty: $XDG_CACHE_HOME/edgeforge or ~/.cache/edgeforge
  bool offline = false;       // never touch the network
  int retries = 4;            // download attempts after the first failure
  // Wait before retry n (1-based) is n * retry_backoff.
  std::chrono::milliseconds retry_backoff{200};
  // A transfer slower than 1 KiB/s for this long is abandoned (and retried).
  std::chrono::seconds low_speed_time{60};
};

/// Returns the default cache directory for this user.
std::filesystem::path default_cache_dir();

class Cache {
 public:
  explicit Cache(CacheOptions options);

  const std::filesystem::path& dir() const { return options_.dir; }
  bool offline() const { return options_.offline; }

  /// Where the blob with `sha256` lives (whether or not it exists).
  std::filesystem::path blob_path(const std::string& sha256) const;
  /// True when the verified blob is present.
  bool has_blob(const std::string& sha256) const;

  /// Returns the path of the verified blob for `url`, downloading it first
  /// when missing. Retries with resume (HTTP Range) on failure; a download
  /// whose sha256 differs is deleted and reported (Errc::checksum). Offline
  /// and missing: Errc::offline. A host that cannot be resolved or refuses
  /// the connection fails at once (no retries), and later fetches from it
  /// through this Cache fail without trying (Errc::network).
  Result<std::filesystem::path> fetch(const std::string& url, const std::string& sha256);

  /// Where a keyed entry lives (whether or not it exists).
  std::filesystem::path keyed_path(const std::string& key) const;
  /// Returns the keyed entry, creating it with `produce(temp_path)` when
  /// missing. `produce` writes the file at the temp path; it is renamed into
  /// place only when `produce` succeeds. Offline and missing: Errc::offline.
  Result<std::filesystem::path> get_or_create(
      const std::string& key,
      const std::function<Result<void>(const std::filesystem::path&)>& produce);

  /// The memo of local input digests (<dir>/digests).
  DigestMemo digest_memo() const { return DigestMemo(options_.dir / "digests"); }

 private:
  CacheOptions options_;
  std::set<std::string> unreachable_hosts_;  // "host:port" that failed to resolve or connect
};

}  // namespace ef::fetch
