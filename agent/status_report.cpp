#include "agent/status_report.hpp"

#include <cmath>
#include <fstream>

#include "agent/boot_control.hpp"
#include "agent/channel_poll.hpp"
#include "agent/state.hpp"

namespace ef::agent {
namespace {

using nlohmann::json;

json or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json slot_json(const SlotRecord& r, const std::optional<device::SlotState>& grub,
               const std::string& name) {
  json j{{"state", slot_health_name(r.health)},
         {"product", r.product},
         {"version", r.version},
         {"imageSha256", r.image_sha256},
         {"sbomSha256", or_null(r.sbom_sha256)}};
  if (grub) {
    j["bootable"] = slot_ok(*grub, name) || slot_tries(*grub, name) > 0;
    j["triesLeft"] = slot_tries(*grub, name);
    j["grubOk"] = slot_ok(*grub, name);
  }
  return j;
}

/// Seconds since boot (/proc/uptime), or null where there is none.
json uptime_seconds() {
  std::ifstream in("/proc/uptime");
  double up = 0;
  if (!(in >> up)) return nullptr;
  return static_cast<int64_t>(std::floor(up));
}

}  // namespace

BootStateRead read_boot_state(const DevicePaths& paths) {
  BootStateRead out;
  std::filesystem::path esp = paths.esp;
  if (esp.empty()) {
    auto mounted = ensure_esp_mounted(paths.esp_mountpoint);
    if (mounted)
      esp = *mounted;
    else
      out.error = mounted.error().message();
  }
  if (!esp.empty()) {
    auto g = BootControl(esp).read();
    if (g)
      out.state = *g;
    else
      out.error = g.error().message();
  }
  return out;
}

json status_document(const DevicePaths& paths) {
  json j = json::object();
  const std::string booted = booted_slot(paths.cmdline, paths.booted_slot);
  j["booted"] = or_null(booted);
  j["uptimeSeconds"] = uptime_seconds();

  auto [grub, grub_error] = read_boot_state(paths);
  if (grub) j["bootOrder"] = grub->order;
  if (!grub_error.empty()) j["bootStateError"] = grub_error;

  auto state = load_state(paths.state);
  if (!state) {
    j["stateError"] = state.error().message();
  } else {
    j["slots"] = {{"A", slot_json(state->a, grub, "A")}, {"B", slot_json(state->b, grub, "B")}};
    // What the running image is made of: the digest of the SBOM its bundle
    // carried under the signature (null for an image installed without one).
    j["sbomSha256"] = booted.empty() ? json(nullptr) : or_null(state->slot(booted).sbom_sha256);
    j["floor"] = state->floor;
    json op = nullptr;
    if (state->operation) {
      const Operation& o = *state->operation;
      op = {{"kind", o.kind},     {"phase", operation_phase_name(o.phase)},
            {"slot", o.slot},     {"version", o.version},
            {"bundle", o.bundle}, {"error", o.error}};
    }
    j["lastOperation"] = op;
    // The booted slot's health: good passed its checks, trial waits for
    // them, bad failed them (the failing check is the last operation's
    // error when that was the health check).
    json health = nullptr;
    if (!booted.empty()) {
      const SlotRecord& r = state->slot(booted);
      const char* result = r.health == SlotHealth::good    ? "passed"
                           : r.health == SlotHealth::trial ? "pending"
                           : r.health == SlotHealth::bad   ? "failed"
                                                           : "unknown";
      health = {{"slot", booted}, {"result", result}, {"error", nullptr}};
      if (state->operation && state->operation->kind == "health")
        health["error"] = or_null(state->operation->error);
    }
    j["health"] = health;
  }

  // The release channel, as the last `watch` left it (no file: never polled).
  auto watch = load_watch_state(paths.state.parent_path() / "watch.json");
  json updates = nullptr;
  if (!watch) {
    j["updatesError"] = watch.error().message();
  } else if (!watch->url.empty()) {
    const WatchState& w = *watch;
    updates = {{"channelUrl", w.url},
               {"channel", w.channel},
               {"metadataVersion", w.metadata_version},
               {"release", or_null(w.release)},
               {"wave", or_null(w.wave)},
               {"action", w.action},
               {"reason", or_null(w.reason)},
               {"why", w.why},
               {"until", w.until ? json(format_utc(*w.until)) : json(nullptr)},
               {"polled", format_utc(w.polled)},
               {"error", or_null(w.error)},
               {"failedReleases", w.failed}};
  }
  j["updates"] = updates;
  return j;
}

}  // namespace ef::agent
