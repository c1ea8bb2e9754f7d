#include "fleet/gates.hpp"

#include <algorithm>
#include <cstdlib>

#include "channel/rollout.hpp"
#include "signing/keyring.hpp"
#include "util/oci_registry.hpp"

namespace ef::fleet {
namespace {

namespace fs = std::filesystem;
using channel::ChannelDoc;
using channel::RolloutState;
using nlohmann::json;

/// The artifact devices install the release from (what a state names).
const channel::Artifact* release_artifact(const ChannelDoc& doc) {
  if (!doc.release) return nullptr;
  if (doc.release->head) return &*doc.release->head;
  return doc.release->bundle ? &*doc.release->bundle : nullptr;
}

RolloutState fresh_state(const ChannelDoc& doc) {
  RolloutState s;
  s.channel = doc.channel;
  s.release = doc.release->version;
  if (const auto* a = release_artifact(doc)) s.artifact_sha256 = a->sha256;
  return s;
}

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? std::to_string(part * 100 / whole) + " %" : "0 %";
}

bool too_many_failed(const WaveCount& c, const channel::Gate& g) {
  uint64_t finished = c.updated + c.failed;
  return c.failed * 100 > uint64_t{g.max_failed_percent} * finished;
}

}  // namespace

std::vector<WaveCount> count_waves(const ChannelDoc& doc, const std::vector<Device>& devices,
                                   UnixSeconds now) {
  std::vector<WaveCount> out;
  if (!doc.release) return out;
  for (const auto& w : doc.rollout.waves) out.push_back({w.name});
  const std::string release = doc.release->version.str();
  const uint64_t deadline =
      doc.rollout.gate ? doc.rollout.gate->deadline_seconds : channel::Gate{}.deadline_seconds;
  const UnixSeconds resumed = doc.state && doc.state->resumed ? *doc.state->resumed : 0;
  for (const Device& d : devices) {
    const Placement& p = d.placement;
    if (d.state != DeviceState::ready || p.channel != doc.channel || p.release != release) continue;
    auto it =
        std::find_if(out.begin(), out.end(), [&](const WaveCount& c) { return c.wave == p.wave; });
    if (it == out.end()) continue;
    ++it->devices;
    if (p.phase == "updated") {
      ++it->updated;
    } else if (p.phase == "failed" || p.phase == "rolled-back") {
      if (d.phase_since > resumed) ++it->failed;  // older ones the operator accepted
    } else if (p.phase == "updating") {
      UnixSeconds since = std::max(d.phase_since, resumed);
      if (now - since > static_cast<int64_t>(deadline))
        ++it->failed;  // started and silent or stuck past the deadline
      else
        ++it->updating;
    }
  }
  return out;
}

GateStep next_state(const ChannelDoc& doc, const std::vector<WaveCount>& counts, UnixSeconds now,
                    uint64_t lifetime) {
  GateStep step;
  if (!doc.release || !doc.rollout.gate || counts.size() != doc.rollout.waves.size()) return step;
  const channel::Gate& g = *doc.rollout.gate;
  step.next = doc.state ? *doc.state : fresh_state(doc);
  RolloutState& s = step.next;
  const bool renew = doc.state && doc.state->expires - now < static_cast<int64_t>(lifetime / 2);
  auto changed = [&](std::string what) {
    step.changed = true;
    step.what = std::move(what);
    s.issued = now;
    s.expires = now + static_cast<int64_t>(lifetime);
    return step;
  };
  if (s.paused) return renew ? changed("renewed (paused)") : step;

  const auto openings = channel::wave_openings(doc);
  const auto& waves = doc.rollout.waves;
  for (size_t i = 0; i < waves.size(); ++i) {
    if (!openings[i] || now < *openings[i]) continue;
    const WaveCount& c = counts[i];
    if (c.updated + c.failed >= g.min_finished && too_many_failed(c, g)) {
      s.paused = true;
      s.reason = "wave \"" + c.wave + "\": " + std::to_string(c.failed) + " of " +
                 std::to_string(c.updated + c.failed) + " finished devices failed (" +
                 percent(c.failed, c.updated + c.failed) + " > " +
                 std::to_string(g.max_failed_percent) + " %)";
      return changed("paused: " + s.reason);
    }
  }
  for (size_t j = 1; j < waves.size(); ++j) {
    if (openings[j]) continue;  // open, or opening at its time
    const size_t prev = j - 1;
    if (!openings[prev] || now < *openings[prev]) break;
    UnixSeconds ready = *openings[prev] + static_cast<int64_t>(waves[j].soak_seconds);
    if (waves[j].not_before) ready = std::max(ready, *waves[j].not_before);
    const WaveCount& c = counts[prev];
    if (now >= ready && c.updated >= g.min_succeeded && !too_many_failed(c, g)) {
      s.opened[waves[j].name] = now;
      s.reason = "opened wave \"" + waves[j].name + "\": \"" + c.wave + "\" has " +
                 std::to_string(c.updated) + " updated, " + std::to_string(c.failed) + " failed";
      return changed(s.reason);
    }
    break;  // one wave at a time, in order
  }
  return renew ? changed("renewed") : step;
}

// ---- the engine -------------------------------------------------------------

struct GateEngine::Channel {
  WatchedChannel config;
  std::string name;
  std::unique_ptr<channel::ChannelStore> store;
  std::optional<signing::Keyring> keyring, rollout_keyring;
  std::optional<signing::SigningKey> key;
};

GateEngine::GateEngine(Database& db, Registry& registry, GateConfig config)
    : db_(db), registry_(registry), config_(std::move(config)) {}

GateEngine::~GateEngine() = default;

Result<std::unique_ptr<GateEngine>> GateEngine::open(Database& db, Registry& registry,
                                                     const GateConfig& config) {
  std::unique_ptr<GateEngine> engine(new GateEngine(db, registry, config));
  for (const WatchedChannel& w : config.channels) {
    auto c = std::make_unique<Channel>();
    c->config = w;
    const std::string where = "channel " + w.location;
    if (w.location.starts_with("oci://")) {
      auto ref = parse_oci_reference(w.location, w.plain_http);
      if (!ref) return ref.error().with_context(where);
      auto creds = docker_config_credentials(ref->registry, default_docker_config());
      if (!creds) return creds.error().with_context(where);
      c->name = ref->tag;
      c->store =
          channel::open_oci_store(std::make_unique<OciRegistry>(*ref, *creds, HttpStreamOptions{}));
    } else {
      fs::path file = w.location;
      if (file.extension() != ".json" || file.stem().empty())
        return Error(Errc::invalid_argument,
                     where + ": give the channel file (DIR/NAME.json) or oci://HOST/REPO:NAME");
      c->name = file.stem().string();
      c->store = channel::open_dir_store(file.parent_path());
    }
    auto ring = signing::Keyring::load(w.keyring);
    if (!ring) return ring.error().with_context(where);
    c->keyring = std::move(*ring);
    auto rollout_ring = signing::Keyring::load(w.keyring / "rollout");
    auto key = signing::SigningKey::load(w.rollout_key);
    if (!key) return key.error().with_context(where + ": rolloutKey");
    // Devices trust what their channel-keyring/rollout/ holds: the service
    // checks its own key is there, or every state it wrote would be refused.
    if (!rollout_ring || !rollout_ring->find(key->key_id()))
      return Error(Errc::invalid_argument,
                   where + ": the rollout key " + key->key_id() + " is not in " +
                       (w.keyring / "rollout").string() +
                       "/ (devices would refuse its states); add its public key there");
    c->rollout_keyring = std::move(*rollout_ring);
    c->key = std::move(*key);
    engine->channels_.push_back(std::move(c));
  }
  return engine;
}

GateEngine::Channel* GateEngine::find(const std::string& name) {
  for (auto& c : channels_)
    if (c->name == name) return c.get();
  return nullptr;
}

Result<ChannelDoc> GateEngine::current(Channel& c, UnixSeconds now) {
  EF_ASSIGN(std::string bytes, c.store->read(c.name));
  channel::TrustPolicy policy;
  policy.now = now;
  policy.channel = c.name;
  policy.rollout_keyring = &*c.rollout_keyring;
  auto v = channel::verify_channel(bytes, *c.keyring, policy);
  if (!v) return v.error().with_context(c.store->where(c.name));
  return std::move(v->doc);
}

Result<void> GateEngine::flush(Channel& c) {
  EF_ASSIGN(auto rows, db_.query("SELECT version, body FROM rollout_states WHERE channel = $1 "
                                 "AND written IS NULL ORDER BY version",
                                 {c.name}));
  for (const Row& row : rows) {
    EF_ASSIGN(RolloutState state, channel::parse_rollout_state(row.text(1)));
    EF_ASSIGN(std::string bytes, c.store->read(c.name));
    EF_ASSIGN(channel::ChannelFile file, channel::split_channel(bytes));
    EF_ASSIGN(ChannelDoc doc, channel::parse_doc(file.signed_bytes));
    const auto* a = release_artifact(doc);
    int64_t written = 0;
    if (!a || doc.release->version != state.release || a->sha256 != state.artifact_sha256) {
      written = -1;  // the operator released something else meanwhile: void
    } else {
      std::optional<RolloutState> there;
      if (file.rollout) {
        auto parsed = channel::parse_rollout_state(file.rollout->signed_bytes);
        if (parsed) there = *parsed;
      }
      if (!there || there->version < state.version) {
        EF_ASSIGN(std::string next, channel::with_rollout_state(bytes, state, {&*c.key}));
        EF_TRY(c.store->write(c.name, next));
      }
      written = state.issued;
    }
    EF_TRY(db_.query("UPDATE rollout_states SET written = $3 WHERE channel = $1 AND version = $2",
                     {c.name, row.integer(0), written}));
  }
  return Ok{};
}

Result<void> GateEngine::commit(Channel& c, const ChannelDoc& doc, RolloutState next,
                                UnixSeconds now) {
  EF_ASSIGN(auto rows,
            db_.query("SELECT MAX(version) FROM rollout_states WHERE channel = $1", {c.name}));
  int64_t highest = rows.empty() ? 0 : rows[0].integer(0);
  if (doc.state) highest = std::max<int64_t>(highest, static_cast<int64_t>(doc.state->version));
  next.version = static_cast<uint64_t>(highest) + 1;
  if (next.issued == 0) {
    next.issued = now;
    next.expires = now + static_cast<int64_t>(config_.state_lifetime_seconds);
  }
  EF_ASSIGN(std::string body, channel::encode_rollout_state(next));
  // Committed first, written second: a service stopped in between writes
  // this same state when it starts again (flush), never a second one.
  EF_TRY(
      db_.query("INSERT INTO rollout_states (channel, version, release_version, body, created) "
                "VALUES ($1, $2, $3, $4, $5)",
                {c.name, static_cast<int64_t>(next.version), next.release.str(), body,
                 static_cast<int64_t>(now)}));
  if (const char* crash = std::getenv("EDGEFORGE_FLEET_TEST_CRASH");
      crash && std::string(crash) == "after-commit")
    std::_Exit(70);  // tests only: a service stopped between commit and write
  return flush(c);
}

Result<std::string> GateEngine::evaluate(Channel& c, UnixSeconds now) {
  EF_TRY(flush(c));
  EF_ASSIGN(ChannelDoc doc, current(c, now));
  if (!doc.release || !doc.rollout.gate) return std::string();
  EF_ASSIGN(auto devices, registry_.devices_in(doc.channel, doc.release->version.str()));
  GateStep step =
      next_state(doc, count_waves(doc, devices, now), now, config_.state_lifetime_seconds);
  if (!step.changed) return std::string();
  EF_TRY(commit(c, doc, step.next, now));
  return "channel " + c.name + " release " + doc.release->version.str() + ": " + step.what +
         " (rollout state " + std::to_string(step.next.version) + ")";
}

std::vector<std::string> GateEngine::run_once(UnixSeconds now) {
  std::vector<std::string> lines;
  for (auto& c : channels_) {
    auto r = evaluate(*c, now);
    if (!r)
      lines.push_back("channel " + c->name + ": gate not evaluated: " + r.error().message());
    else if (!r->empty())
      lines.push_back(*r);
  }
  return lines;
}

Result<json> GateEngine::channels(UnixSeconds now) {
  json list = json::array();
  for (auto& c : channels_) {
    json j = {{"channel", c->name}, {"location", c->store->where(c->name)}};
    auto doc = current(*c, now);
    if (!doc) {
      j["error"] = doc.error().message();
      list.push_back(j);
      continue;
    }
    std::string why;
    j["paused"] = channel::is_paused(*doc, now, &why);
    j["reason"] = why;
    j["release"] = doc->release ? json(doc->release->version.str()) : json();
    j["stateVersion"] = doc->state ? json(doc->state->version) : json();
    if (const auto& g = doc->rollout.gate)
      j["gate"] = {{"minSucceeded", g->min_succeeded},
                   {"maxFailedPercent", g->max_failed_percent},
                   {"minFinished", g->min_finished},
                   {"deadlineSeconds", g->deadline_seconds}};
    std::vector<WaveCount> counts;
    if (doc->release) {
      EF_ASSIGN(auto devices, registry_.devices_in(doc->channel, doc->release->version.str()));
      counts = count_waves(*doc, devices, now);
    }
    const auto openings = channel::wave_openings(*doc);
    json waves = json::array();
    for (size_t i = 0; i < doc->rollout.waves.size(); ++i) {
      json w = {{"wave", doc->rollout.waves[i].name},
                {"open", openings[i] && now >= *openings[i]},
                {"opens", openings[i] ? json(format_utc(*openings[i])) : json()}};
      if (i < counts.size())
        w["devices"] = {{"reporting", counts[i].devices},
                        {"updated", counts[i].updated},
                        {"updating", counts[i].updating},
                        {"failed", counts[i].failed}};
      waves.push_back(w);
    }
    j["waves"] = waves;
    list.push_back(j);
  }
  return json{{"channels", list}};
}

Result<void> GateEngine::pause(const std::string& name, const std::string& who,
                               const std::string& reason, UnixSeconds now) {
  Channel* c = find(name);
  if (!c) return Error(Errc::not_found, "this service watches no channel \"" + name + "\"");
  EF_TRY(flush(*c));
  EF_ASSIGN(ChannelDoc doc, current(*c, now));
  if (!doc.release) return Error(Errc::refused, "channel " + name + " names no release to pause");
  RolloutState next = doc.state ? *doc.state : fresh_state(doc);
  if (next.paused) return Ok{};
  next.paused = true;
  next.reason = "paused by " + who + ": " + reason;
  next.issued = 0;  // commit() dates it
  return commit(*c, doc, next, now);
}

Result<void> GateEngine::resume(const std::string& name, const std::string& who, UnixSeconds now) {
  Channel* c = find(name);
  if (!c) return Error(Errc::not_found, "this service watches no channel \"" + name + "\"");
  EF_TRY(flush(*c));
  EF_ASSIGN(ChannelDoc doc, current(*c, now));
  if (!doc.release) return Error(Errc::refused, "channel " + name + " names no release");
  if (doc.paused)
    return Error(Errc::refused, "channel " + name +
                                    " is paused in its document by an operator's key: run "
                                    "'edgeforge channel resume' with that key");
  RolloutState next = doc.state ? *doc.state : fresh_state(doc);
  if (!next.paused && doc.state && now < doc.state->expires) return Ok{};
  next.paused = false;
  next.resumed = now;  // failures so far were seen; they no longer stop it
  next.reason = "resumed by " + who;
  next.issued = 0;
  return commit(*c, doc, next, now);
}

}  // namespace ef::fleet
