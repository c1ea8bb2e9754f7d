#include "fleet/registry.hpp"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "signing/keys.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

const char* const kDeviceColumns =
    "id, state, public_key, created, registered, last_report, last_seq, status, channel, "
    "release_version, running, wave, phase, phase_since, error, tags";

Result<DeviceState> parse_state(const std::string& s) {
  if (s == "provisioned") return DeviceState::provisioned;
  if (s == "unpaired") return DeviceState::unpaired;
  if (s == "ready") return DeviceState::ready;
  return Error(Errc::database, "a device in an unknown state \"" + s + "\"");
}

Result<Device> device_of(const Row& r) {
  Device d;
  d.id = r.text(0);
  EF_ASSIGN(d.state, parse_state(r.text(1)));
  d.public_key = r.text(2);
  d.created = r.integer(3);
  if (!r.null(4)) d.registered = r.integer(4);
  if (!r.null(5)) d.last_report = r.integer(5);
  d.last_seq = r.integer(6);
  d.status = r.text(7);
  Placement& p = d.placement;
  p.channel = r.text(8);
  p.release = r.text(9);
  p.running = r.text(10);
  p.wave = r.text(11);
  p.phase = r.text(12);
  d.phase_since = r.integer(13);
  p.error = r.text(14);
  auto tags = nlohmann::json::parse(r.text(15), nullptr, false);
  if (tags.is_object())
    for (const auto& [k, v] : tags.items())
      if (v.is_string()) p.tags[k] = v.get<std::string>();
  return d;
}

/// 256 random bits as 64 hex digits (shown to the operator once).
Result<std::string> random_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return Error(Errc::internal, "no random bytes for a token");
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace

const char* device_state_name(DeviceState s) {
  switch (s) {
    case DeviceState::provisioned:
      return "provisioned";
    case DeviceState::unpaired:
      return "unpaired";
    case DeviceState::ready:
      return "ready";
  }
  return "unknown";
}

Result<void> check_device_id(const std::string& id) {
  static const std::regex ok("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
  if (!std::regex_match(id, ok))
    return Error(Errc::invalid_argument,
                 "device ID \"" + id.substr(0, 64) +
                     "\": 1 to 128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit");
  return Ok{};
}

Result<std::string> Registry::create_token(const TokenSpec& spec, UnixSeconds now) {
  EF_ASSIGN(std::string secret, random_secret());
  EF_TRY(db_.query(
      "INSERT INTO tokens (id, expires, single_use, auto_approve, uses, created) "
      "VALUES ($1, $2, $3, $4, 0, $5)",
      {sha256_hex(secret), static_cast<int64_t>(now + static_cast<int64_t>(spec.lifetime_seconds)),
       int64_t{spec.single_use}, int64_t{spec.auto_approve}, static_cast<int64_t>(now)}));
  return secret;
}

Result<uint64_t> Registry::import_devices(const std::vector<std::string>& ids, UnixSeconds now) {
  for (const auto& id : ids) EF_TRY(check_device_id(id));
  uint64_t added = 0;
  auto done = db_.transaction([&]() -> Result<void> {
    added = 0;
    for (const auto& id : ids) {
      EF_ASSIGN(auto rows, db_.query("INSERT INTO devices (id, state, created) VALUES ($1, "
                                     "'provisioned', $2) ON CONFLICT (id) DO NOTHING RETURNING id",
                                     {id, static_cast<int64_t>(now)}));
      added += rows.size();
    }
    return Ok{};
  });
  if (!done) return done.error();
  return added;
}

Result<DeviceState> Registry::register_device(const std::string& id, const std::string& public_key,
                                              const std::string& token, UnixSeconds now) {
  EF_TRY(check_device_id(id));
  auto key = signing::PublicKey::from_pem(public_key);
  if (!key || key->algorithm() != signing::Algorithm::ed25519)
    return Error(Errc::invalid_argument, "device " + id +
                                             ": the public key is not an Ed25519 "
                                             "key in PEM");
  DeviceState result = DeviceState::unpaired;
  auto done = db_.transaction([&]() -> Result<void> {
    // The same device and key again is the same registration, whatever
    // became of the token since (used up, expired): its state is returned.
    EF_ASSIGN(
        auto rows,
        db_.query(std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1", {id}));
    std::optional<Device> known;
    if (!rows.empty()) {
      EF_ASSIGN(known, device_of(rows[0]));
      if (!known->public_key.empty()) {
        if (known->public_key != key->pem())
          return Error(Errc::refused, "device " + id +
                                          " is registered with another key; an operator must "
                                          "remove it before it registers again");
        result = known->state;
        return Ok{};
      }
    }
    EF_ASSIGN(auto tokens,
              db_.query("SELECT expires, single_use, auto_approve, uses FROM tokens WHERE id = $1",
                        {sha256_hex(token)}));
    if (tokens.empty())
      return Error(Errc::refused, "device " + id + ": unknown registration token");
    const Row& t = tokens[0];
    if (t.integer(0) <= now)
      return Error(Errc::refused, "device " + id + ": the registration token expired at " +
                                      format_utc(t.integer(0)));
    if (t.integer(1) != 0 && t.integer(3) > 0)
      return Error(Errc::refused,
                   "device " + id + ": the registration token was for one device and is used");

    if (!rows.empty()) {
      result = DeviceState::ready;  // pre-provisioned
      EF_TRY(
          db_.query("UPDATE devices SET public_key = $2, state = 'ready', registered = $3 "
                    "WHERE id = $1",
                    {id, key->pem(), static_cast<int64_t>(now)}));
    } else {
      result = t.integer(2) != 0 ? DeviceState::ready : DeviceState::unpaired;
      EF_TRY(db_.query(
          "INSERT INTO devices (id, state, public_key, created, registered) "
          "VALUES ($1, $2, $3, $4, $4)",
          {id, std::string(device_state_name(result)), key->pem(), static_cast<int64_t>(now)}));
    }
    EF_TRY(db_.query("UPDATE tokens SET uses = uses + 1 WHERE id = $1", {sha256_hex(token)}));
    return Ok{};
  });
  if (!done) return done.error();
  return result;
}

Result<void> Registry::approve(const std::string& id) {
  EF_ASSIGN(auto rows, db_.query("UPDATE devices SET state = 'ready' WHERE id = $1 AND state = "
                                 "'unpaired' RETURNING id",
                                 {id}));
  if (!rows.empty()) return Ok{};
  EF_ASSIGN(auto d, device(id));
  if (!d) return Error(Errc::not_found, "no device " + id);
  if (d->state == DeviceState::ready) return Ok{};
  return Error(Errc::refused,
               "device " + id + " has not registered yet (" + device_state_name(d->state) + ")");
}

Result<void> Registry::check() {
  EF_TRY(db_.query("SELECT 1"));
  return Ok{};
}

Result<std::optional<Device>> Registry::device(const std::string& id) {
  EF_ASSIGN(
      auto rows,
      db_.query(std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE id = $1", {id}));
  if (rows.empty()) return std::optional<Device>();
  EF_ASSIGN(Device d, device_of(rows[0]));
  return std::optional<Device>(std::move(d));
}

Result<std::vector<Device>> Registry::devices() {
  EF_ASSIGN(auto rows,
            db_.query(std::string("SELECT ") + kDeviceColumns + " FROM devices ORDER BY id"));
  std::vector<Device> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    EF_ASSIGN(Device d, device_of(r));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<Device>> Registry::devices_in(const std::string& channel,
                                                 const std::string& release) {
  EF_ASSIGN(auto rows, db_.query(std::string("SELECT ") + kDeviceColumns +
                                     " FROM devices WHERE channel = $1 AND release_version = $2",
                                 {channel, release}));
  std::vector<Device> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    EF_ASSIGN(Device d, device_of(r));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<Registry::Report>> Registry::reports(const std::string& id, int64_t limit) {
  EF_ASSIGN(auto rows, db_.query("SELECT seq, received, body FROM reports WHERE device_id = $1 "
                                 "ORDER BY seq DESC LIMIT $2",
                                 {id, limit}));
  std::vector<Report> out;
  for (const Row& r : rows) out.push_back({r.integer(0), r.integer(1), r.text(2)});
  return out;
}

Result<bool> Registry::take_report(const std::string& id, const std::string* public_key,
                                   int64_t seq, const std::string& body, UnixSeconds now) {
  const Placement p = place_report(body);
  const std::string tags = nlohmann::json(p.tags).dump();
  std::vector<SqlValue> values = {
      id,     seq,     static_cast<int64_t>(now), body, p.channel, p.release, p.running,
      p.wave, p.phase, p.error.substr(0, 2000),   tags};
  // The report and where it puts the device, in one statement; the phase
  // keeps its first time while it stays the same (gate deadlines). Taken
  // only when its sequence number is above the last one (a row lock orders
  // two copies of one report: the second finds last_seq raised).
  std::string update =
      "UPDATE devices SET last_seq = $2, last_report = $3, status = $4, "
      "channel = $5, release_version = $6, running = $7, wave = $8, "
      "phase_since = CASE WHEN phase = $9 AND release_version = $6 "
      "THEN phase_since ELSE $3 END, phase = $9, error = $10, tags = $11 "
      "WHERE id = $1 AND state = 'ready' AND last_seq < $2";
  if (public_key != nullptr) {
    update += " AND public_key = $12";
    values.emplace_back(*public_key);
  }
  update += " RETURNING id";
  std::vector<Row> rows;
  if (std::string(db_.engine()) == "postgresql") {
    // One statement, so one round trip and its own transaction: the insert
    // happens exactly when the update did. No serializable transaction is
    // needed for the rule, and none fails for another device's report.
    // Relaxed: answered before the WAL flush (a report lost in a database
    // crash comes again with the device's next one; as on SQLite).
    EF_ASSIGN(rows, db_.query_relaxed("WITH taken AS (" + update +
                                  ") INSERT INTO reports (device_id, seq, received, body) "
                                  "SELECT id, $2, $3, $4 FROM taken RETURNING device_id",
                              values));
    return !rows.empty();
  }
  // SQLite has no UPDATE inside WITH; its transactions have one writer.
  auto done = db_.transaction([&]() -> Result<void> {
    EF_ASSIGN(rows, db_.query(update, values));
    if (rows.empty()) return Ok{};
    EF_TRY(db_.query("INSERT INTO reports (device_id, seq, received, body) VALUES ($1, $2, $3, $4)",
                     {id, seq, static_cast<int64_t>(now), body}));
    return Ok{};
  });
  if (!done) return done.error();
  return !rows.empty();
}

Result<bool> Registry::accept_report_if_key(const std::string& id, const std::string& public_key,
                                            int64_t seq, const std::string& body, UnixSeconds now) {
  return take_report(id, &public_key, seq, body, now);
}

Result<void> Registry::accept_report(const std::string& id, int64_t seq, const std::string& body,
                                     UnixSeconds now) {
  EF_ASSIGN(bool taken, take_report(id, nullptr, seq, body, now));
  if (taken) return Ok{};
  EF_ASSIGN(auto d, device(id));
  if (!d) return Error(Errc::not_found, "no device " + id);
  if (d->state != DeviceState::ready)
    return Error(Errc::refused, "device " + id + " is " + device_state_name(d->state) +
                                    "; its reports are taken once an operator approves it");
  return Error(Errc::refused, "device " + id + ": report " + std::to_string(seq) +
                                  " is not after report " + std::to_string(d->last_seq) +
                                  " (a replay or a reordering); not taken");
}

}  // namespace ef::fleet
