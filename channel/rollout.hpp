// Who gets a release when: the rollout arithmetic every device does for
// itself, with no server to ask. A device's place is a pure function of the
// channel, the release version and its device ID, so it stays in the same
// wave across polls and reboots, and the places spread evenly over a fleet;
// a new release reshuffles them, so the same devices are not always first.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "util/utc_time.hpp"

namespace ef::channel {

/// What a device knows about itself.
struct DeviceIdentity {
  std::string id;                           // /etc/machine-id, or the site's device ID
  std::map<std::string, std::string> tags;  // the site file's tags
};

/// The device's place in [0, 1'000'000): parts per million, from
/// sha256("edgeforge-rollout\0" CHANNEL "\0" VERSION "\0" DEVICE-ID).
uint32_t rollout_place(const std::string& channel, const SemVer& version,
                       const std::string& device_id);

/// When each wave opens: wave 0 at max(rollout.start + soak, notBefore),
/// each later one at max(previous + soak, notBefore).
std::vector<UnixSeconds> wave_open_times(const Rollout& rollout);

/// The wave that holds `device`: a tag or device-list wave it matches
/// (these override percentages, first match in order), else the first
/// percent wave whose share covers its place; nullopt when none does.
std::optional<size_t> wave_of(const ChannelDoc& doc, const DeviceIdentity& device);

/// Why a device may or may not start the channel's release, and when.
struct Turn {
  enum class State {
    no_release,   // the channel names no release
    not_in_plan,  // no wave holds this device (yet)
    paused,       // the channel is paused
    waiting,      // its wave, or its place in a capped wave, comes at `at`
    gated,        // its wave opens when the fleet service says so (Rollout::gate)
    go,           // it may start now
  };
  State state = State::no_release;
  std::optional<size_t> wave;
  UnixSeconds at = 0;  // when it may start (waiting, go)
};

/// The device's turn at `now`. A device's start inside a wave with
/// maxPerHour is delayed by its position: (its place within the wave's share)
/// x fleetSize / maxPerHour hours, or its index in a device list.
Turn turn_of(const ChannelDoc& doc, const DeviceIdentity& device, UnixSeconds now);

/// When each wave opens: by its soak and notBefore, and for a gated
/// rollout's later waves only once the rollout state opened them (nullopt
/// until then).
std::vector<std::optional<UnixSeconds>> wave_openings(const ChannelDoc& doc);

/// Whether the channel is paused at `now`: by the operator's document, by
/// the fleet service's rollout state, or because a gated rollout's state
/// expired (the service stopped vouching for it). `why` says which.
bool is_paused(const ChannelDoc& doc, UnixSeconds now, std::string* why = nullptr);

/// "waiting for wave \"5pct\" to open at 2026-12-06T00:00:00Z" and the like.
std::string describe(const ChannelDoc& doc, const Turn& turn);

/// One wave as `edgeforge channel show` explains it.
struct WaveView {
  std::string name;
  std::string selects;    // "5 % of the fleet (cumulative)", "tags ring=canary", "2 devices"
  UnixSeconds opens = 0;  // 0: a gated wave the fleet service has not opened
  bool open = false;
  /// Percent waves: the share of the whole fleet this wave holds, and of that
  /// the share allowed to start by `now` (less than the share while a
  /// maxPerHour cap is still spreading the wave out).
  double share = 0;
  double eligible = 0;
};

/// Every wave at `now`, plus the fleet fraction eligible in total (percent
/// waves only; tag and device waves add devices the plan cannot count).
struct RolloutView {
  std::vector<WaveView> waves;
  double eligible = 0;
};
RolloutView view_rollout(const ChannelDoc& doc, UnixSeconds now);

/// A fraction of the fleet as people read it: 0.025 -> "2.5 %".
std::string percent_text(double fraction);

}  // namespace ef::channel
