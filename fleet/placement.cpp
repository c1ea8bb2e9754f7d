#include "fleet/placement.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ef::fleet {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j.at(key);
  return v.is_string() ? v.get<std::string>() : "";
}

const json& member(const json& j, const char* key) {
  static const json none;
  if (!j.is_object() || !j.contains(key)) return none;
  return j.at(key);
}

}  // namespace

Placement place_report(const std::string& report_json) {
  Placement p;
  json r = json::parse(report_json, nullptr, false);
  if (r.is_discarded() || !r.is_object()) return p;
  const std::string booted = str(r, "booted");
  const json& slot = member(member(r, "slots"), booted.c_str());
  p.running = str(slot, "version");
  const json& tags = member(r, "tags");
  if (tags.is_object())
    for (const auto& [k, v] : tags.items())
      if (v.is_string()) p.tags[k] = v.get<std::string>();
  const json& op = member(r, "lastOperation");
  if (str(op, "phase") == "failed") p.error = str(op, "error");

  const json& u = member(r, "updates");
  if (!u.is_object()) {
    p.phase = "no-channel";
    return p;
  }
  p.channel = str(u, "channel");
  p.release = str(u, "release");
  p.wave = str(u, "wave");
  if (!str(u, "error").empty()) p.error = str(u, "error");
  const std::string action = str(u, "action"), reason = str(u, "reason");
  const json& failed = member(u, "failedReleases");
  const bool failed_here =
      failed.is_array() && std::find(failed.begin(), failed.end(), json(p.release)) != failed.end();
  const std::string health = str(member(r, "health"), "result");
  if (p.release.empty())
    p.phase = "no-release";
  else if (failed_here)
    p.phase = "rolled-back";
  else if (p.running == p.release)
    p.phase = health == "pending" ? "updating" : "updated";
  else if (action == "failed")
    p.phase = "failed";
  else if (reason == "window")
    p.phase = "waiting-window";
  else if (action == "upgrade" || action == "staged" || action == "rebooting")
    p.phase = "updating";
  else if (action == "wait")
    p.phase = "pending";
  else if (reason == "not-in-plan")
    p.phase = "not-in-plan";
  else if (reason == "newer")
    p.phase = "updated";  // ahead of the channel: nothing to do
  else
    p.phase = "pending";
  if (p.phase == "updated") p.error.clear();
  return p;
}

}  // namespace ef::fleet
