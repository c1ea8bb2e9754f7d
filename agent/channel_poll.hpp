// One poll of a release channel: a conditional GET (ETag, If-Modified-Since)
// so that a channel that did not change costs one small request and a 304,
// the checks of channel::verify_channel against what this device saw before
// (kept across reboots on the persistent partition), and the last accepted
// file kept beside it, so a 304 or an unreachable server still decides and
// an expired document is still refused. A channel in an OCI registry is read
// the same way: a conditional manifest request, the file's blob only when
// the tag moved (channel/oci_channel.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "signing/keyring.hpp"
#include "util/error.hpp"
#include "util/http_stream.hpp"
#include "util/utc_time.hpp"

namespace ef::agent {

/// What `watch` remembers (persist/agent/watch.json).
struct WatchState {
  /// Per channel name: the highest metadata version accepted and the sha256
  /// of its signed bytes. Never lowered: a replayed older file is refused.
  struct Seen {
    uint64_t version = 0;
    std::string sha256;
    // The highest rollout state version taken for `release` (0: none).
    std::string release;
    uint64_t state_version = 0;
  };
  std::map<std::string, Seen> seen;
  /// Releases whose slot was marked bad on this device (health check or
  /// boot failure): watch never installs them again.
  std::vector<std::string> failed;
  // The last poll: where, the validators the server sent, and the outcome.
  std::string url;
  std::string etag;
  std::string last_modified;
  UnixSeconds polled = 0;
  std::string error;  // the last poll's error, "" when it worked
  // The last decision, for `edgeforge-agent status`.
  std::string channel;  // its name
  uint64_t metadata_version = 0;
  std::string release;  // the release it names, "" for none
  std::string action;   // watch_action_name(), or failed, staged, rebooting
  std::string reason;   // WatchDecision::reason, or "install-failed", "reboot"
  std::string wave;     // the device's wave in the rollout plan, "" for none
  std::string why;
  std::optional<UnixSeconds> until;
};

/// Reads `path`; a missing file is a device that never polled. A malformed
/// file is Errc::invalid_argument naming it.
Result<WatchState> load_watch_state(const std::filesystem::path& path);
/// Replaces `path` atomically and durably.
Result<void> save_watch_state(const std::filesystem::path& path, const WatchState& state);

struct PollOptions {
  std::string url;  // http(s):// URL, oci://HOST/REPO:CHANNEL or a path
  const signing::Keyring* keyring = nullptr;
  /// Keys that may sign a rollout state besides the channel keys (the
  /// fleet service's); null: none.
  const signing::Keyring* rollout_keyring = nullptr;
  std::filesystem::path cache;  // the last accepted file of `url`
  UnixSeconds now = 0;
  HttpStreamOptions http;
};

struct PollResult {
  channel::VerifiedChannel channel;
  bool fetched = false;  // a new body came (200), not a 304 or the cache
  std::string how;       // "HTTP 200", "HTTP 304 (not modified)", "file"
};

/// Fetches and verifies the channel at `options.url`. On success updates
/// `state` (validators, seen versions) and the cache; on any failure leaves
/// both as they were and says what failed in one line (Errc::network,
/// bad_channel, untrusted, refused).
Result<PollResult> poll_channel(const PollOptions& options, WatchState& state);

}  // namespace ef::agent
