// Devices for the dashboard's tests, put into a Registry the way the service
// gets them: imported, registered with their own Ed25519 key and a token,
// approved, and reporting the agent's status document (agent/status_report.hpp).
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "fleet/registry.hpp"
#include "signing/keys.hpp"

namespace ef::test {

/// A status report as the agent sends it after a `watch`: slot A booted
/// running `running`; the channel's `release` for its `wave`, and what the
/// agent does about it (`action`, `reason`, as in agent/watch.hpp).
inline nlohmann::json agent_report(const std::string& running, const std::string& channel,
                                   const std::string& release, const std::string& wave,
                                   const std::string& action, const std::string& reason,
                                   const nlohmann::json& tags = nlohmann::json::object()) {
  return {{"reason", "watch"},
          {"booted", "A"},
          {"slots",
           {{"A", {{"version", running}, {"state", "good"}, {"tries", 0}}},
            {"B", {{"version", "0.9.0"}, {"state", "good"}, {"tries", 0}}}}},
          {"floor", "0.9.0"},
          {"bootOrder", {"A", "B"}},
          {"health", {{"slot", "A"}, {"result", "passed"}, {"error", nullptr}}},
          {"lastOperation", nullptr},
          {"updates",
           {{"channel", channel},
            {"release", release},
            {"wave", wave},
            {"action", action},
            {"reason", reason},
            {"error", nullptr},
            {"failedReleases", nlohmann::json::array()},
            {"metadataVersion", 7}}},
          {"tags", tags},
          {"uptimeSeconds", 86400 * 3 + 1234},
          {"droppedReports", 0}};
}

/// The same report for a device whose install of `release` failed with `error`.
inline nlohmann::json failed_report(const std::string& running, const std::string& channel,
                                    const std::string& release, const std::string& wave,
                                    const std::string& error,
                                    const nlohmann::json& tags = nlohmann::json::object()) {
  nlohmann::json r =
      agent_report(running, channel, release, wave, "failed", "install-failed", tags);
  r["updates"]["error"] = error;
  r["lastOperation"] = {{"kind", "install"}, {"phase", "failed"}, {"error", error}};
  return r;
}

/// Puts devices into `registry` as the service would get them.
class FleetData {
 public:
  FleetData(fleet::Registry& registry, UnixSeconds now) : registry_(registry), now_(now) {
    auto t = registry_.create_token({}, now_);
    EXPECT_TRUE(t);
    if (t) token_ = *t;
  }

  /// Imports `id` (pre-provisioned) and, unless `registers` is false, registers it.
  void add(const std::string& id, bool registers = true) {
    ASSERT_TRUE(registry_.import_devices({id}, now_ - 30 * 86400));
    if (!registers) return;
    auto key = signing::SigningKey::generate(signing::Algorithm::ed25519);
    ASSERT_TRUE(key);
    ASSERT_TRUE(registry_.register_device(id, key->public_key().pem(), token_, now_ - 29 * 86400));
  }

  /// Adds `id` with `report` taken `age` seconds ago (seq 1), and earlier
  /// reports before it when `history` > 0.
  void add(const std::string& id, const nlohmann::json& report, int64_t age, int history = 0) {
    add(id);
    int64_t seq = 0;
    for (int i = history; i > 0; --i) {
      nlohmann::json older = report;
      older["reason"] = "heartbeat";
      ASSERT_TRUE(registry_.accept_report(id, ++seq, older.dump(), now_ - age - i * 3600));
    }
    ASSERT_TRUE(registry_.accept_report(id, ++seq, report.dump(), now_ - age));
  }

 private:
  fleet::Registry& registry_;
  UnixSeconds now_;
  std::string token_;
};

}  // namespace ef::test
