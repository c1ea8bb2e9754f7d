#include "channel/rollout.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "util/sha256.hpp"

namespace ef::channel {
namespace {

constexpr uint32_t kPlaces = 1'000'000;

/// The places [lo, hi) of percent wave `index`.
std::pair<uint32_t, uint32_t> percent_range(const Rollout& r, size_t index) {
  uint32_t lo = 0;
  for (size_t i = 0; i < index; ++i)
    if (r.waves[i].percent) lo = *r.waves[i].percent * 10'000;
  return {lo, *r.waves[index].percent * 10'000};
}

bool tags_match(const Wave& w, const DeviceIdentity& device) {
  for (const auto& [key, value] : w.tags) {
    auto it = device.tags.find(key);
    if (it == device.tags.end() || it->second != value) return false;
  }
  return true;
}

/// Seconds after its wave opens that `device` may start (maxPerHour).
uint64_t spread_delay(const ChannelDoc& doc, size_t wave, const DeviceIdentity& device) {
  const Wave& w = doc.rollout.waves[wave];
  if (!w.max_per_hour) return 0;
  double ahead = 0;  // devices of this wave before this one
  if (w.percent) {
    uint32_t lo = percent_range(doc.rollout, wave).first;
    uint32_t place = rollout_place(doc.channel, doc.release->version, device.id);
    ahead = static_cast<double>(place - lo) / kPlaces * static_cast<double>(doc.rollout.fleet_size);
  } else if (!w.devices.empty()) {
    auto it = std::find(w.devices.begin(), w.devices.end(), device.id);
    ahead = static_cast<double>(it - w.devices.begin());
  }
  return static_cast<uint64_t>(ahead * 3600.0 / w.max_per_hour);
}

}  // namespace

std::string percent_text(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g %%", fraction * 100);
  return buf;
}

uint32_t rollout_place(const std::string& channel, const SemVer& version,
                       const std::string& device_id) {
  std::string input = "edgeforge-rollout";
  input.push_back('\0');
  input += channel;
  input.push_back('\0');
  input += version.str();
  input.push_back('\0');
  input += device_id;
  std::string hex = sha256_hex(input);
  uint64_t v = std::stoull(hex.substr(0, 16), nullptr, 16);
  return static_cast<uint32_t>(v % kPlaces);
}

std::vector<UnixSeconds> wave_open_times(const Rollout& rollout) {
  std::vector<UnixSeconds> out;
  UnixSeconds previous = rollout.start;
  for (const Wave& w : rollout.waves) {
    UnixSeconds opens = previous + static_cast<UnixSeconds>(w.soak_seconds);
    if (w.not_before) opens = std::max(opens, *w.not_before);
    out.push_back(opens);
    previous = opens;
  }
  return out;
}

std::optional<size_t> wave_of(const ChannelDoc& doc, const DeviceIdentity& device) {
  if (!doc.release) return std::nullopt;
  const auto& waves = doc.rollout.waves;
  for (size_t i = 0; i < waves.size(); ++i) {
    if (!waves[i].tags.empty() && tags_match(waves[i], device)) return i;
    if (std::find(waves[i].devices.begin(), waves[i].devices.end(), device.id) !=
        waves[i].devices.end())
      return i;
  }
  uint32_t place = rollout_place(doc.channel, doc.release->version, device.id);
  for (size_t i = 0; i < waves.size(); ++i) {
    if (!waves[i].percent) continue;
    if (place < percent_range(doc.rollout, i).second) return i;
  }
  return std::nullopt;
}

std::vector<std::optional<UnixSeconds>> wave_openings(const ChannelDoc& doc) {
  std::vector<std::optional<UnixSeconds>> out;
  const auto by_time = wave_open_times(doc.rollout);
  std::optional<UnixSeconds> previous = doc.rollout.start;
  for (size_t i = 0; i < doc.rollout.waves.size(); ++i) {
    const Wave& w = doc.rollout.waves[i];
    if (!doc.rollout.gate || i == 0) {
      out.push_back(by_time[i]);
    } else {
      std::optional<UnixSeconds> said;  // when the service opened it
      if (doc.state) {
        auto it = doc.state->opened.find(w.name);
        if (it != doc.state->opened.end()) said = it->second;
      }
      if (!previous || !said) {
        out.push_back(std::nullopt);
      } else {
        UnixSeconds opens = std::max(*said, *previous + static_cast<UnixSeconds>(w.soak_seconds));
        if (w.not_before) opens = std::max(opens, *w.not_before);
        out.push_back(opens);
      }
    }
    previous = out.back();
  }
  return out;
}

bool is_paused(const ChannelDoc& doc, UnixSeconds now, std::string* why) {
  auto say = [&](std::string text) {
    if (why) *why = std::move(text);
    return true;
  };
  if (doc.paused) return say("the operator paused the channel");
  if (doc.state && doc.state->paused)
    return say("the fleet service paused the channel: " + doc.state->reason);
  if (doc.rollout.gate && doc.state && now >= doc.state->expires)
    return say("the rollout state expired at " + format_utc(doc.state->expires) +
               " (the fleet service no longer renews it)");
  return false;
}

Turn turn_of(const ChannelDoc& doc, const DeviceIdentity& device, UnixSeconds now) {
  Turn t;
  if (!doc.release) return t;
  t.wave = wave_of(doc, device);
  if (!t.wave) {
    t.state = Turn::State::not_in_plan;
    return t;
  }
  auto opens = wave_openings(doc);
  if (is_paused(doc, now)) {
    t.state = Turn::State::paused;
  } else if (!opens[*t.wave]) {
    t.state = Turn::State::gated;
  } else {
    t.at = *opens[*t.wave] + static_cast<UnixSeconds>(spread_delay(doc, *t.wave, device));
    t.state = now >= t.at ? Turn::State::go : Turn::State::waiting;
  }
  return t;
}

std::string describe(const ChannelDoc& doc, const Turn& turn) {
  std::string wave = turn.wave ? "wave \"" + doc.rollout.waves[*turn.wave].name + "\"" : "";
  switch (turn.state) {
    case Turn::State::no_release:
      return "channel \"" + doc.channel + "\" names no release";
    case Turn::State::not_in_plan:
      return "no wave of the rollout holds this device yet";
    case Turn::State::paused: {
      std::string why;
      is_paused(doc, std::numeric_limits<UnixSeconds>::max() / 2, &why);
      return why + " (this device is in " + wave + ")";
    }
    case Turn::State::gated:
      return "in " + wave + ", which opens when the fleet service sees the wave before it succeed";
    case Turn::State::waiting:
      return "in " + wave + ", its turn comes at " + format_utc(turn.at);
    case Turn::State::go:
      return "in " + wave + ", its turn came at " + format_utc(turn.at);
  }
  return "";
}

RolloutView view_rollout(const ChannelDoc& doc, UnixSeconds now) {
  RolloutView view;
  auto opens = wave_openings(doc);
  for (size_t i = 0; i < doc.rollout.waves.size(); ++i) {
    const Wave& w = doc.rollout.waves[i];
    WaveView v;
    v.name = w.name;
    v.opens = opens[i].value_or(0);
    v.open = doc.release && !is_paused(doc, now) && opens[i] && now >= *opens[i];
    if (w.percent) {
      auto [lo, hi] = percent_range(doc.rollout, i);
      v.share = static_cast<double>(hi - lo) / kPlaces;
      v.selects = std::to_string(*w.percent) + " % of the fleet in total (" +
                  percent_text(v.share) + " in this wave)";
      if (v.open) {
        v.eligible = v.share;
        if (w.max_per_hour) {
          double started = static_cast<double>(now - *opens[i]) / 3600.0 * w.max_per_hour /
                           static_cast<double>(doc.rollout.fleet_size);
          v.eligible = std::min(v.share, started);
        }
      }
      view.eligible += v.eligible;
    } else if (!w.tags.empty()) {
      v.selects = "devices tagged";
      for (const auto& [key, value] : w.tags) v.selects += " " + key + "=" + value;
    } else {
      v.selects = std::to_string(w.devices.size()) + " device" +
                  (w.devices.size() == 1 ? "" : "s") + " by ID";
    }
    if (w.max_per_hour) v.selects += ", at most " + std::to_string(w.max_per_hour) + " per hour";
    view.waves.push_back(std::move(v));
  }
  return view;
}

}  // namespace ef::channel
