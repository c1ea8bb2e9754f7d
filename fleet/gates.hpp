// Rollout gates: the fleet service judges each gated channel's release from
// its devices' reports and writes the channel's next rollout state (open the
// next wave, or pause), signed with its rollout key, to the channel's place
// (docs/fleet-api.md, "Rollout gates"; the format is docs/channels.md's).
//
// next_state() is the rule, a pure function. GateEngine runs it for every
// channel in the configuration and makes each change happen once: the new
// state is committed to the database before it is written to the channel's
// place, and a service that stopped in between writes it when it starts
// again (the same bytes: Ed25519 is deterministic), never a second one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "channel/channel_store.hpp"
#include "fleet/registry.hpp"
#include "fleet/rollout_control.hpp"

namespace ef::fleet {

/// One wave of a channel's release as the devices report it.
struct WaveCount {
  std::string wave;
  uint64_t devices = 0;   // reporting for this release in this wave
  uint64_t updated = 0;   // run it, healthy
  uint64_t failed = 0;    // failed, rolled back, or updating past the deadline
  uint64_t updating = 0;  // started, within the deadline
};

/// The counts per wave of `doc`'s release (in the order of its waves) from
/// `devices`. Failures seen before the state's `resumed` do not count.
std::vector<WaveCount> count_waves(const channel::ChannelDoc& doc,
                                   const std::vector<Device>& devices, UnixSeconds now);

/// What one evaluation decided.
struct GateStep {
  bool changed = false;
  channel::RolloutState next;  // when changed: the state to sign (version not yet set)
  std::string what;            // one line for the log
};

/// The next rollout state of `doc` (its state attached, if any). In order:
/// a paused state only renews; an open wave with at least minFinished
/// finished devices of which more than maxFailedPercent % failed pauses the
/// channel; else the first gated wave not yet open opens when the wave
/// before it soaked (soakSeconds, notBefore) with at least minSucceeded
/// devices updated and its failures within bounds; a state half-way to its
/// expiry is renewed. An ungated channel or one without a release: no change.
GateStep next_state(const channel::ChannelDoc& doc, const std::vector<WaveCount>& counts,
                    UnixSeconds now, uint64_t lifetime_seconds);

/// One channel the service watches.
struct WatchedChannel {
  std::string location;           // DIR/NAME.json or oci://HOST/REPO:NAME
  bool plain_http = false;        // oci:// over http (a test registry)
  std::filesystem::path keyring;  // the channel keys (to verify the document)
  std::string rollout_key;        // PEM file or pkcs11: URI of the rollout key
};

struct GateConfig {
  std::vector<WatchedChannel> channels;
  uint64_t interval_seconds = 60;               // between evaluations
  uint64_t state_lifetime_seconds = 7 * 86400;  // each state's validity
};

class GateEngine final : public RolloutControl {
 public:
  /// Opens every channel's store and loads the keys; errors name the channel.
  static Result<std::unique_ptr<GateEngine>> open(Database& db, Registry& registry,
                                                  const GateConfig& config);
  ~GateEngine() override;

  /// One pass: for every channel, what an earlier pass committed but did
  /// not write is written, then its gate is evaluated. Returns one line per
  /// change or failure (a failing channel does not stop the others).
  std::vector<std::string> run_once(UnixSeconds now);

  Result<nlohmann::json> channels(UnixSeconds now) override;
  Result<void> pause(const std::string& name, const std::string& who, const std::string& reason,
                     UnixSeconds now) override;
  Result<void> resume(const std::string& name, const std::string& who, UnixSeconds now) override;

  const GateConfig& config() const { return config_; }

 private:
  struct Channel;
  GateEngine(Database& db, Registry& registry, GateConfig config);
  Channel* find(const std::string& name);
  Result<void> flush(Channel& c);
  /// Reads and verifies the channel (its state attached).
  Result<channel::ChannelDoc> current(Channel& c, UnixSeconds now);
  /// Commits `next` as the channel's next state, then writes it.
  Result<void> commit(Channel& c, const channel::ChannelDoc& doc, channel::RolloutState next,
                      UnixSeconds now);
  Result<std::string> evaluate(Channel& c, UnixSeconds now);

  Database& db_;
  Registry& registry_;
  GateConfig config_;
  std::vector<std::unique_ptr<Channel>> channels_;
};

}  // namespace ef::fleet
