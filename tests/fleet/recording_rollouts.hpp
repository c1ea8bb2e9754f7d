// A stand-in for the rollout gates (fleet/gates.hpp) behind RolloutControl:
// a list of channels kept in memory, and a record of every pause and resume
// asked of it, for the dashboard's tests.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleet/rollout_control.hpp"

namespace ef::test {

class RecordingRollouts : public fleet::RolloutControl {
 public:
  struct Call {
    std::string what, channel, who, reason;
    bool operator==(const Call&) const = default;
  };

  /// Watches `channels` (names), none paused, each at release 1.1.0 unless
  /// `releases` (in the same order) says otherwise.
  explicit RecordingRollouts(std::vector<std::string> channels,
                             std::vector<std::string> releases = {})
      : names_(std::move(channels)), releases_(std::move(releases)) {
    paused_.assign(names_.size(), false);
    reasons_.assign(names_.size(), "");
    releases_.resize(names_.size(), "1.1.0");
  }

  /// Makes channels() fail with `message` (an unreadable channel file).
  void fail_listing(std::string message) {
    std::lock_guard lock(mutex_);
    failure_ = std::move(message);
  }

  Result<nlohmann::json> channels(UnixSeconds) override {
    std::lock_guard lock(mutex_);
    if (!failure_.empty()) return Error(Errc::io, failure_);
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < names_.size(); ++i)
      list.push_back({{"channel", names_[i]},
                      {"location", "file:///srv/channels/" + names_[i]},
                      {"release", releases_[i]},
                      {"paused", static_cast<bool>(paused_[i])},
                      {"reason", reasons_[i]},
                      {"stateVersion", 3},
                      {"waves",
                       {{{"wave", "canary"}, {"open", true}, {"opened", "2026-11-30T08:00:00Z"}},
                        {{"wave", "early"}, {"open", true}, {"opened", "2026-12-01T08:00:00Z"}},
                        {{"wave", "rest"}, {"open", false}, {"opened", nullptr}}}}});
    return nlohmann::json{{"channels", list}};
  }

  Result<void> pause(const std::string& name, const std::string& who, const std::string& reason,
                     UnixSeconds) override {
    return change(name, true, {"pause", name, who, reason});
  }

  Result<void> resume(const std::string& name, const std::string& who, UnixSeconds) override {
    return change(name, false, {"resume", name, who, ""});
  }

  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  Result<void> change(const std::string& name, bool paused, Call call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(call);
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) {
        paused_[i] = paused;
        reasons_[i] = call.reason;
        return {};
      }
    return Error(Errc::not_found, "no channel " + name + " is watched by this service");
  }

  mutable std::mutex mutex_;
  std::vector<std::string> names_;
  std::vector<std::string> releases_;
  std::vector<char> paused_;
  std::vector<std::string> reasons_;
  std::vector<Call> calls_;
  std::string failure_;
};

}  // namespace ef::test
