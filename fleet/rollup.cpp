#include "fleet/rollup.hpp"

#include <algorithm>

namespace ef::fleet {
namespace {

using nlohmann::json;

void count(json& counts, const std::string& phase, int64_t n = 1) {
  if (!counts.contains(phase)) counts[phase] = 0;
  counts[phase] = counts[phase].get<int64_t>() + n;
}

}  // namespace

json rollup(const std::vector<Device>& devices, const RollupOptions& o) {
  json by_state = json::object(), by_phase = json::object(), by_tag = json::object();
  std::map<std::string, std::map<std::string, std::map<std::string, json>>> tree;
  // What the devices of each wave run: channel -> release -> wave -> {version: n}.
  std::map<std::string, std::map<std::string, std::map<std::string, json>>> running;
  json failing = json::array(), silent = json::array();
  size_t silent_count = 0;
  for (const Device& d : devices) {
    count(by_state, device_state_name(d.state));
    if (d.state != DeviceState::ready) continue;
    const Placement& p = d.placement;
    count(by_phase, p.phase);
    json& waves = tree[p.channel][p.release][p.wave];
    if (waves.is_null()) waves = json::object();
    count(waves, p.phase);
    json& versions = running[p.channel][p.release][p.wave];
    if (versions.is_null()) versions = json::object();
    count(versions, p.running);
    for (const auto& [k, v] : p.tags) {
      json& t = by_tag[k + "=" + v];
      if (t.is_null()) t = json::object();
      count(t, p.phase);
    }
    const bool is_silent =
        !d.last_report || o.now - *d.last_report > static_cast<int64_t>(o.silent_after_seconds);
    if (is_silent) {
      ++silent_count;
      if (silent.size() < o.list_limit)
        silent.push_back({{"id", d.id},
                          {"lastReport", d.last_report ? json(format_utc(*d.last_report)) : json()},
                          {"phase", p.phase}});
    }
    if ((p.phase == "failed" || p.phase == "rolled-back") && failing.size() < o.list_limit)
      failing.push_back({{"id", d.id},
                         {"phase", p.phase},
                         {"channel", p.channel},
                         {"release", p.release},
                         {"wave", p.wave},
                         {"error", p.error},
                         {"since", format_utc(d.phase_since)}});
  }
  json channels = json::array();
  for (const auto& [channel, releases] : tree) {
    json rel = json::array();
    for (const auto& [release, waves] : releases) {
      json total = json::object(), wave_list = json::array();
      int64_t n = 0;
      for (const auto& [wave, counts] : waves) {
        int64_t in_wave = 0;
        for (const auto& [phase, c] : counts.items()) {
          in_wave += c.get<int64_t>();
          count(total, phase, c.get<int64_t>());
        }
        n += in_wave;
        wave_list.push_back({{"wave", wave},
                             {"devices", in_wave},
                             {"byPhase", counts},
                             {"running", running[channel][release][wave]}});
      }
      rel.push_back(
          {{"release", release}, {"devices", n}, {"byPhase", total}, {"waves", wave_list}});
    }
    channels.push_back({{"channel", channel}, {"releases", rel}});
  }
  return {{"generated", format_utc(o.now)},
          {"devices", devices.size()},
          {"byState", by_state},
          {"byPhase", by_phase},
          {"channels", channels},
          {"byTag", by_tag},
          {"silent", silent_count},
          {"silentAfterSeconds", o.silent_after_seconds},
          {"silentDevices", silent},
          {"failingDevices", failing}};
}

}  // namespace ef::fleet
