#include "agent/watch.hpp"

#include <algorithm>
#include <chrono>

namespace ef::agent {
namespace {

using Action = WatchDecision::Action;

WatchDecision nothing(std::string reason, std::string why) {
  WatchDecision d;
  d.reason = std::move(reason);
  d.why = std::move(why);
  return d;
}

WatchDecision wait(std::string reason, std::string why, std::optional<UnixSeconds> until) {
  WatchDecision d;
  d.action = Action::wait;
  d.reason = std::move(reason);
  d.why = std::move(why);
  d.until = until;
  return d;
}

std::chrono::sys_seconds instant(UnixSeconds t) {
  return std::chrono::sys_seconds(std::chrono::seconds(t));
}

}  // namespace

const char* watch_action_name(WatchDecision::Action action) {
  switch (action) {
    case Action::nothing:
      return "nothing";
    case Action::wait:
      return "wait";
    case Action::upgrade:
      return "upgrade";
  }
  return "?";
}

Result<WatchDecision> decide(const channel::ChannelDoc& doc, const std::string& channel_url,
                             const WatchFacts& facts, UnixSeconds now) {
  if (!doc.release)
    return nothing("no-release", "channel \"" + doc.channel + "\" names no release");
  const channel::Release& r = *doc.release;
  const std::string release = r.product + " " + r.version.str();
  if (r.product != facts.product || r.compatible != facts.compatible) {
    return nothing("other-product", "the channel's release " + release + " (" + r.compatible +
                                        ") is not for this device (" + facts.product + ", " +
                                        facts.compatible + ")");
  }
  if (r.version == facts.running) return nothing("up-to-date", "up to date: running " + release);
  if (r.version < facts.running) {
    return nothing("newer", "running " + facts.running.str() +
                                ", newer than the channel's release " + r.version.str() +
                                " (a channel never downgrades a device)");
  }
  if (std::find(facts.failed.begin(), facts.failed.end(), r.version) != facts.failed.end()) {
    return nothing("failed-here",
                   "release " + r.version.str() +
                       " failed its health check on this device; waiting for a newer release");
  }
  if (facts.staged && *facts.staged == r.version)
    return nothing("staged",
                   "release " + r.version.str() + " is installed and waits for its reboot");

  channel::Turn turn = channel::turn_of(doc, facts.identity, now);
  switch (turn.state) {
    case channel::Turn::State::no_release:
    case channel::Turn::State::not_in_plan:
      return nothing(turn.state == channel::Turn::State::no_release ? "no-release" : "not-in-plan",
                     channel::describe(doc, turn));
    case channel::Turn::State::paused:
      return wait("paused", channel::describe(doc, turn), std::nullopt);
    case channel::Turn::State::waiting:
      return wait("wave", channel::describe(doc, turn), turn.at);
    case channel::Turn::State::gated:  // only a new rollout state opens it
      return wait("wave", channel::describe(doc, turn), std::nullopt);
    case channel::Turn::State::go:
      break;
  }
  if (facts.window && !device::in_window(*facts.window, instant(now))) {
    auto opens = device::next_window_open(*facts.window, instant(now)).time_since_epoch().count();
    return wait("window",
                channel::describe(doc, turn) + "; outside the maintenance window, which opens at " +
                    format_utc(opens),
                opens);
  }

  WatchDecision d;
  d.action = Action::upgrade;
  d.reason = "go";
  d.is_head = r.head.has_value();
  d.artifact = d.is_head ? *r.head : *r.bundle;
  EF_ASSIGN(d.url, channel::resolve_artifact(channel_url, d.artifact.url));
  d.version = r.version;
  d.why = channel::describe(doc, turn) + "; installing " + release + " from its " +
          (d.is_head ? "bundle head (delta)" : "bundle");
  return d;
}

RebootVerdict may_reboot(const std::string& policy,
                         const std::optional<device::MaintenanceWindow>& window, UnixSeconds now) {
  if (policy == "manual")
    return {false, "the reboot policy is manual: run 'edgeforge-agent reboot'", std::nullopt};
  if (policy == "window" && window && !device::in_window(*window, instant(now))) {
    auto opens = device::next_window_open(*window, instant(now)).time_since_epoch().count();
    return {false, "reboots wait for the maintenance window, which opens at " + format_utc(opens),
            opens};
  }
  return {true, "", std::nullopt};
}

}  // namespace ef::agent
