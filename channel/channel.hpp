// Release channels: one signed document per channel, served as a static file
// next to the bundles and chunk stores it names. A device fetches it, checks
// it (signature by a channel key, expiry, a version never lower than the
// last one it saw), and decides for itself when its turn in the rollout
// comes (channel/rollout.hpp). docs/channels.md specifies the format.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signing/bundle_format.hpp"
#include "signing/keyring.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"
#include "util/utc_time.hpp"

namespace ef::channel {

inline constexpr uint32_t kChannelFormatVersion = 1;
/// The largest channel file a device reads.
inline constexpr size_t kMaxChannelBytes = 256 * 1024;

/// The file on removable media that names the channel file beside it (one
/// line, NAME.json): `edgeforge channel export` writes it, `edgeforge-agent
/// watch --from DIR` and the media rule look for it.
inline constexpr const char* kMediaMarker = "edgeforge-channel";

/// A file the channel points to, by a path relative to the channel file.
struct Artifact {
  std::string url;  // relative: segments of [A-Za-z0-9._+-], no "." or ".."
  std::string sha256;
  uint64_t size = 0;
};

/// Who is in one wave. Exactly one of the three selectors is set.
struct Wave {
  std::string name;
  std::map<std::string, std::string> tags;  // every tag must match the device's
  std::vector<std::string> devices;         // device IDs
  std::optional<uint32_t> percent;          // cumulative share of the fleet, 0..100
  uint64_t soak_seconds = 0;                // after the previous wave opened
  std::optional<UnixSeconds> not_before;    // and not before this time
  uint32_t max_per_hour = 0;                // 0: no cap; needs Rollout::fleet_size for percents
};

/// When a gated rollout's next wave may open and when it stops: the fleet
/// service (fleet/gates.hpp) judges the devices' reports and says so in the
/// channel's rollout state (RolloutState), signed with its rollout key.
struct Gate {
  uint64_t min_succeeded = 1;            // devices of the previous wave updated
  uint32_t max_failed_percent = 10;      // of its finished devices; more: the channel pauses
  uint64_t min_finished = 1;             // no stop before this many of a wave finished
  uint64_t deadline_seconds = 6 * 3600;  // updating longer than this counts as failed
};

struct Rollout {
  UnixSeconds start = 0;    // when the release was made; the first wave's soak counts from it
  uint64_t fleet_size = 0;  // the operator's estimate; 0: unknown
  std::vector<Wave> waves;
  /// Set: every wave after the first opens only when the rollout state
  /// says so (its soak and notBefore still apply).
  std::optional<Gate> gate;
};

/// The fleet service's word on one release's rollout, signed apart from the
/// channel document by a rollout key (or a channel key): which gated waves
/// it opened and whether it paused the channel. A rollout key can do
/// nothing else: a document signed only by one is refused.
struct RolloutState {
  std::string channel;
  SemVer release;               // the release it is about; another release ignores it
  std::string artifact_sha256;  // and that release's head (or bundle)
  uint64_t version = 0;         // rises with every state of the channel
  UnixSeconds issued = 0;
  UnixSeconds expires = 0;  // a gated rollout whose state expired stops
  bool paused = false;
  std::string reason;                         // why the last change, one line
  std::optional<UnixSeconds> resumed;         // failures before this no longer count
  std::map<std::string, UnixSeconds> opened;  // gated waves opened, by name
};

struct Release {
  std::string product;
  std::string compatible;
  SemVer version;
  std::optional<Artifact> bundle;  // a full .efb
  std::optional<Artifact> head;    // a published head (.efbh) in a chunk store
};

/// The signed part of a channel file.
struct ChannelDoc {
  std::string channel;   // its name: [a-z0-9][a-z0-9._-]*
  uint64_t version = 0;  // metadata version; every change raises it
  UnixSeconds issued = 0;
  UnixSeconds expires = 0;
  bool paused = false;
  std::optional<Release> release;
  Rollout rollout;
  /// Not part of the signed document: the rollout state that came verified
  /// beside it (verify_channel), when it is about this release.
  std::optional<RolloutState> state;
};

/// The canonical JSON of `doc` (the bytes its signatures cover). A doc that
/// parse_doc would refuse is Errc::invalid_argument.
Result<std::string> encode_doc(const ChannelDoc& doc);
/// Strict inverse of encode_doc: unknown keys, a malformed wave plan, bad
/// URLs and times are Errc::bad_channel naming the key.
Result<ChannelDoc> parse_doc(std::string_view bytes);

/// The channel file: {"signatures":[...],"signed":DOC}, canonical, every
/// signature over encode_doc(doc) by one of `keys`.
Result<std::string> sign_channel(const ChannelDoc& doc,
                                 const std::vector<const signing::SigningKey*>& keys);

/// The canonical JSON of a rollout state; Errc::invalid_argument for one
/// parse_rollout_state would refuse.
Result<std::string> encode_rollout_state(const RolloutState& state);
/// Strict inverse (Errc::bad_channel naming the key).
Result<RolloutState> parse_rollout_state(std::string_view bytes);

/// One signed part of a channel file, nothing yet trusted.
struct SignedPart {
  std::string signed_bytes;  // canonical JSON the signatures cover
  std::vector<signing::BundleSignature> signatures;
};

/// A channel file split: {"rollout"?: PART, "signatures": [...], "signed": DOC}.
struct ChannelFile {
  std::string signed_bytes;  // the canonical DOC the signatures cover
  std::vector<signing::BundleSignature> signatures;
  std::optional<SignedPart> rollout;  // the rollout state, when there is one
};

/// `file_bytes` with its rollout state replaced by `state` signed with
/// `keys` (the DOC part is kept byte for byte).
Result<std::string> with_rollout_state(std::string_view file_bytes, const RolloutState& state,
                                       const std::vector<const signing::SigningKey*>& keys);
/// `file_bytes` with the rollout part of `from` (a channel file) carried
/// over when it is about the same release as `file_bytes`' document;
/// without one otherwise. The channel commands keep the service's word
/// this way when an operator re-signs the document.
Result<std::string> carry_rollout_state(std::string_view file_bytes, std::string_view from);
/// Splits a channel file (bounded, canonical). Errc::bad_channel.
Result<ChannelFile> split_channel(std::string_view file_bytes);

/// What a verifier brings.
struct TrustPolicy {
  UnixSeconds now = 0;
  /// The highest metadata version accepted before (0: none); a lower one is
  /// a replay, the same one with other bytes an equivocation.
  uint64_t last_version = 0;
  std::string last_sha256;  // sha256 of that version's signed bytes, when known
  std::string channel;      // the expected channel name; empty: any
  /// Keys that may sign a rollout state besides the channel keys (the fleet
  /// service's rollout keys); null: only the channel keys.
  const signing::Keyring* rollout_keyring = nullptr;
  /// The highest rollout state version accepted before for `last_release`
  /// ("" none): a lower one, or none at all, is a replay (a pause stripped).
  uint64_t last_state_version = 0;
  std::string last_release;
  /// How far the device clock may run behind `issued` before the device
  /// says its clock is wrong instead of trusting the document.
  uint64_t max_clock_skew = 24 * 3600;
};

/// A trusted channel document.
struct VerifiedChannel {
  ChannelDoc doc;
  std::string signed_sha256;  // remember it with doc.version
  std::string key_id;         // the key whose signature counted
  std::string state_key_id;   // the key that signed doc.state, "" without one
  /// Why a rollout state in the file was not taken ("" when there was none
  /// or it was): it is about another release.
  std::string state_note;
};

/// Parses, checks signatures against `keyring` (any one trusted, not revoked
/// key), then expiry, replay and clock. Errors: Errc::bad_channel for a
/// malformed file, Errc::untrusted for signatures, Errc::refused for a
/// stale, replayed or not yet valid document.
Result<VerifiedChannel> verify_channel(std::string_view file_bytes, const signing::Keyring& keyring,
                                       const TrustPolicy& policy);

/// Resolves an artifact URL against the channel file's URL (http(s):// or a
/// path): the directory of `channel_url` + `relative`. A URL that is not a
/// plain relative path below that directory is Errc::bad_channel.
Result<std::string> resolve_artifact(const std::string& channel_url, const std::string& relative);

/// Checks `url` as an artifact URL (see Artifact::url).
Result<void> check_artifact_url(std::string_view url);

}  // namespace ef::channel
