#include "channel/channel.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "signing/bundle.hpp"
#include "util/canonical_json.hpp"
#include "util/json_fields.hpp"
#include "util/oci_registry.hpp"
#include "util/sha256.hpp"

namespace ef::channel {
namespace {

using nlohmann::json;

constexpr size_t kMaxName = 256;
constexpr size_t kMaxWaves = 64;
constexpr size_t kMaxWaveDevices = 1000;
constexpr size_t kMaxTags = 16;

Error bad(const std::string& message) {
  return Error(Errc::bad_channel, message);
}

class Fields : public JsonFields {
 public:
  Fields(const json& object, std::string path)
      : JsonFields(object, std::move(path), Errc::bad_channel,
                   "this edgeforge reads channel format " + std::to_string(kChannelFormatVersion)) {
  }
  Result<UnixSeconds> time(const char* key) {
    EF_ASSIGN(std::string s, string(key, 32));
    auto t = parse_utc(s);
    if (!t) return bad(name(key) + ": " + t.error().message());
    return *t;
  }
};

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

Result<void> check_channel_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name_char(name[0]) && name[0] != '.' &&
            name[0] != '-' && name[0] != '_';
  for (char c : name) ok = ok && name_char(c);
  if (!ok)
    return bad("channel name \"" + name +
               "\" must be 1 to 64 of a-z 0-9 . _ - and start with a letter or digit");
  return Ok{};
}

Result<Artifact> read_artifact(Fields& parent, const char* key) {
  EF_ASSIGN(const json* object, parent.object(key));
  Fields f(*object, parent.path() + key + ".");
  Artifact a;
  EF_ASSIGN(a.url, f.string("url", 1024));
  if (auto ok = check_artifact_url(a.url); !ok)
    return bad(f.name("url") + ": " + ok.error().message());
  EF_ASSIGN(a.sha256, f.hex("sha256", 64, 64));
  EF_ASSIGN(a.size, f.uint("size"));
  EF_TRY(f.finish());
  return a;
}

json artifact_json(const Artifact& a) {
  return {{"url", a.url}, {"sha256", a.sha256}, {"size", a.size}};
}

Result<Release> read_release(Fields& parent) {
  EF_ASSIGN(const json* object, parent.object("release"));
  Fields f(*object, "release.");
  Release r;
  EF_ASSIGN(r.product, f.string("product", kMaxName));
  EF_ASSIGN(r.compatible, f.string("compatible", kMaxName));
  EF_ASSIGN(r.version, f.version("version", kMaxName));
  if (f.has("bundle")) {
    EF_ASSIGN(r.bundle, read_artifact(f, "bundle"));
  }
  if (f.has("head")) {
    EF_ASSIGN(r.head, read_artifact(f, "head"));
  }
  EF_TRY(f.finish());
  if (!r.bundle && !r.head) return bad("\"release\" names neither a \"bundle\" nor a \"head\"");
  return r;
}

Result<Wave> read_wave(const json& item, size_t index) {
  std::string path = "rollout.waves[" + std::to_string(index) + "]";
  if (!item.is_object()) return bad("\"" + path + "\" must be an object");
  Fields f(item, path + ".");
  Wave w;
  EF_ASSIGN(w.name, f.string("name", 64));
  if (f.has("tags")) {
    EF_ASSIGN(const json* tags, f.object("tags"));
    for (auto it = tags->begin(); it != tags->end(); ++it) {
      if (!it.value().is_string() || it.key().empty() ||
          it.value().get_ref<const std::string&>().empty())
        return bad("\"" + path + ".tags\" must map names to non-empty strings");
      w.tags[it.key()] = it.value().get<std::string>();
    }
  }
  if (f.has("devices")) {
    EF_ASSIGN(const json* devices, f.array("devices"));
    for (const auto& d : *devices) {
      if (!d.is_string() || d.get_ref<const std::string&>().empty())
        return bad("\"" + path + ".devices\" must list non-empty device IDs");
      w.devices.push_back(d.get<std::string>());
    }
  }
  if (f.has("percent")) {
    EF_ASSIGN(w.percent, f.uint32("percent"));
  }
  if (f.has("soakSeconds")) {
    EF_ASSIGN(w.soak_seconds, f.uint("soakSeconds"));
  }
  if (f.has("notBefore")) {
    EF_ASSIGN(w.not_before, f.time("notBefore"));
  }
  if (f.has("maxPerHour")) {
    EF_ASSIGN(w.max_per_hour, f.uint32("maxPerHour"));
  }
  EF_TRY(f.finish());
  return w;
}

Result<Gate> read_gate(Fields& parent) {
  EF_ASSIGN(const json* object, parent.object("gate"));
  Fields f(*object, "rollout.gate.");
  Gate g;
  EF_ASSIGN(g.min_succeeded, f.uint("minSucceeded"));
  EF_ASSIGN(g.max_failed_percent, f.uint32("maxFailedPercent"));
  EF_ASSIGN(g.min_finished, f.uint("minFinished"));
  EF_ASSIGN(g.deadline_seconds, f.uint("deadlineSeconds"));
  EF_TRY(f.finish());
  if (g.max_failed_percent > 100) return bad("\"rollout.gate.maxFailedPercent\" is above 100");
  if (g.min_finished == 0) return bad("\"rollout.gate.minFinished\" must be at least 1");
  if (g.deadline_seconds == 0) return bad("\"rollout.gate.deadlineSeconds\" must be above 0");
  return g;
}

Result<Rollout> read_rollout(Fields& parent) {
  EF_ASSIGN(const json* object, parent.object("rollout"));
  Fields f(*object, "rollout.");
  Rollout r;
  EF_ASSIGN(r.start, f.time("start"));
  EF_ASSIGN(r.fleet_size, f.uint("fleetSize"));
  EF_ASSIGN(const json* waves, f.array("waves"));
  if (waves->size() > kMaxWaves) return bad("\"rollout.waves\" lists more than 64 waves");
  for (size_t i = 0; i < waves->size(); ++i) {
    EF_ASSIGN(Wave w, read_wave((*waves)[i], i));
    r.waves.push_back(std::move(w));
  }
  if (f.has("gate")) {
    EF_ASSIGN(r.gate, read_gate(f));
  }
  EF_TRY(f.finish());
  return r;
}

json wave_json(const Wave& w) {
  json j = {{"name", w.name}};
  if (!w.tags.empty()) j["tags"] = w.tags;
  if (!w.devices.empty()) j["devices"] = w.devices;
  if (w.percent) j["percent"] = *w.percent;
  if (w.soak_seconds) j["soakSeconds"] = w.soak_seconds;
  if (w.not_before) j["notBefore"] = format_utc(*w.not_before);
  if (w.max_per_hour) j["maxPerHour"] = w.max_per_hour;
  return j;
}

Result<void> check_wave(const Wave& w, const Rollout& r, const std::string& where) {
  int selectors = !w.tags.empty() + !w.devices.empty() + w.percent.has_value();
  if (selectors != 1)
    return bad(where + " must have exactly one of \"tags\", \"devices\" or \"percent\"");
  if (w.tags.size() > kMaxTags) return bad(where + " matches more than 16 tags");
  if (w.devices.size() > kMaxWaveDevices) return bad(where + " lists more than 1000 devices");
  if (w.percent && *w.percent > 100) return bad(where + " has a percent above 100");
  if (w.max_per_hour && !w.tags.empty())
    return bad(where + " caps devices per hour, but a tag wave has no known size; use percent");
  if (w.max_per_hour && w.percent && r.fleet_size == 0)
    return bad(where + " caps devices per hour: give \"rollout.fleetSize\" too");
  return Ok{};
}

/// The wave plan's invariants, both directions.
Result<void> check_rollout(const Rollout& r) {
  std::set<std::string> names;
  std::optional<uint32_t> last_percent;
  for (size_t i = 0; i < r.waves.size(); ++i) {
    const Wave& w = r.waves[i];
    std::string where = "wave \"" + w.name + "\" (rollout.waves[" + std::to_string(i) + "])";
    if (!names.insert(w.name).second) return bad(where + ": the name is used twice");
    EF_TRY(check_wave(w, r, where));
    if (w.percent) {
      if (last_percent && *w.percent <= *last_percent)
        return bad(where + ": percentages must rise from wave to wave (" +
                   std::to_string(*last_percent) + " then " + std::to_string(*w.percent) + ")");
      last_percent = w.percent;
    }
  }
  return Ok{};
}

Result<void> check_doc(const ChannelDoc& d) {
  EF_TRY(check_channel_name(d.channel));
  if (d.version == 0) return bad("\"version\" must be at least 1");
  if (d.expires <= d.issued) return bad("\"expires\" must be after \"issued\"");
  EF_TRY(check_rollout(d.rollout));
  return Ok{};
}

}  // namespace

Result<void> check_artifact_url(std::string_view url) {
  if (url.empty() || url.size() > 1024) return bad("an artifact URL must be 1 to 1024 bytes long");
  size_t start = 0;
  while (start <= url.size()) {
    size_t end = url.find('/', start);
    if (end == std::string_view::npos) end = url.size();
    std::string_view segment = url.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..")
      return bad("\"" + std::string(url) +
                 "\" must be a relative path below the channel (no leading /, no . or .. "
                 "segments, no scheme)");
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-' || c == '+';
      if (!ok)
        return bad("\"" + std::string(url) + "\" holds '" + std::string(1, c) +
                   "': an artifact URL is a relative path of A-Z a-z 0-9 . _ + - segments");
    }
    start = end + 1;
  }
  return Ok{};
}

Result<std::string> resolve_artifact(const std::string& channel_url, const std::string& relative) {
  EF_TRY(check_artifact_url(relative));
  if (channel_url.starts_with("oci://")) {
    // A channel in a registry names a tag of its own repository.
    EF_ASSIGN(OciReference ref, parse_oci_reference(channel_url));
    if (relative.find('/') != std::string::npos || relative.size() > 128 || relative[0] == '.' ||
        relative[0] == '-' || relative.find('+') != std::string::npos)
      return bad("\"" + relative + "\" is not a tag of " + ref.str() +
                 ": a channel in an OCI registry names the tags `edgeforge publish` made in its "
                 "own repository");
    ref.tag = relative;
    return ref.str();
  }
  size_t slash = channel_url.rfind('/');
  if (slash == std::string::npos) return relative;  // a channel file in the working directory
  return channel_url.substr(0, slash + 1) + relative;
}

Result<std::string> encode_doc(const ChannelDoc& d) {
  if (auto ok = check_doc(d); !ok) return Error(Errc::invalid_argument, ok.error().message());
  json j = {{"formatVersion", kChannelFormatVersion},
            {"channel", d.channel},
            {"version", d.version},
            {"issued", format_utc(d.issued)},
            {"expires", format_utc(d.expires)},
            {"paused", d.paused}};
  if (d.release) {
    json r = {{"product", d.release->product},
              {"compatible", d.release->compatible},
              {"version", d.release->version.str()}};
    if (d.release->bundle) r["bundle"] = artifact_json(*d.release->bundle);
    if (d.release->head) r["head"] = artifact_json(*d.release->head);
    j["release"] = r;
  }
  json waves = json::array();
  for (const Wave& w : d.rollout.waves) waves.push_back(wave_json(w));
  j["rollout"] = {{"start", format_utc(d.rollout.start)},
                  {"fleetSize", d.rollout.fleet_size},
                  {"waves", waves}};
  if (const auto& g = d.rollout.gate)
    j["rollout"]["gate"] = {{"minSucceeded", g->min_succeeded},
                            {"maxFailedPercent", g->max_failed_percent},
                            {"minFinished", g->min_finished},
                            {"deadlineSeconds", g->deadline_seconds}};
  auto bytes = canonical_json(j);
  if (!bytes) return bytes.error();
  // What we write, we must read back.
  if (auto back = parse_doc(*bytes); !back)
    return Error(Errc::invalid_argument, "cannot encode channel: " + back.error().message());
  return bytes;
}

Result<ChannelDoc> parse_doc(std::string_view bytes) {
  auto parsed = parse_canonical_json(bytes, JsonLimits{kMaxChannelBytes, 8});
  if (!parsed) return bad("channel document is " + parsed.error().message());
  if (!parsed->is_object()) return bad("channel document must be a JSON object");
  Fields f(*parsed, "");
  ChannelDoc d;
  EF_ASSIGN(uint32_t format, f.uint32("formatVersion"));
  if (format != kChannelFormatVersion)
    return bad("channel format version " + std::to_string(format) +
               " is not supported (this edgeforge reads version 1)");
  EF_ASSIGN(d.channel, f.string("channel", 64));
  EF_ASSIGN(d.version, f.uint("version"));
  EF_ASSIGN(d.issued, f.time("issued"));
  EF_ASSIGN(d.expires, f.time("expires"));
  EF_ASSIGN(d.paused, f.boolean("paused"));
  if (f.has("release")) {
    EF_ASSIGN(d.release, read_release(f));
  }
  EF_ASSIGN(d.rollout, read_rollout(f));
  EF_TRY(f.finish());
  EF_TRY(check_doc(d));
  return d;
}

namespace {

/// {"signatures": [...], "signed": {...}} of a channel file (or of its
/// rollout part): the signatures are the bundle's signature block, inlined.
Result<SignedPart> read_part(Fields& f, const std::string& what) {
  SignedPart out;
  EF_ASSIGN(const json* signatures, f.array("signatures"));
  EF_ASSIGN(const json* doc, f.object("signed"));
  EF_TRY(f.finish());
  EF_ASSIGN(std::string block, canonical_json(json{{"signatures", *signatures}}));
  auto parsed_signatures = signing::parse_signature_block(block);
  if (!parsed_signatures) return bad(what + " " + parsed_signatures.error().message());
  out.signatures = std::move(*parsed_signatures);
  // The signed part is canonical inside a canonical file, so re-encoding it
  // gives back exactly the bytes that were signed.
  EF_ASSIGN(out.signed_bytes, canonical_json(*doc));
  return out;
}

Result<json> signed_part_json(const std::string& signed_bytes,
                              const std::vector<const signing::SigningKey*>& keys) {
  std::vector<signing::BundleSignature> signatures;
  for (const auto* key : keys) {
    EF_ASSIGN(std::string sig, key->sign(signed_bytes));
    signatures.push_back({signing::algorithm_name(key->algorithm()), key->key_id(), sig});
  }
  EF_ASSIGN(std::string block, signing::encode_signature_block(signatures));
  json part = json::parse(block);
  part["signed"] = json::parse(signed_bytes);
  return part;
}

Result<json> part_json(const SignedPart& p) {
  EF_ASSIGN(std::string block, signing::encode_signature_block(p.signatures));
  json part = json::parse(block);
  part["signed"] = json::parse(p.signed_bytes);
  return part;
}

}  // namespace

Result<std::string> sign_channel(const ChannelDoc& doc,
                                 const std::vector<const signing::SigningKey*>& keys) {
  if (keys.empty())
    return Error(Errc::invalid_argument, "a channel needs at least one signing key");
  EF_ASSIGN(std::string signed_bytes, encode_doc(doc));
  EF_ASSIGN(json file, signed_part_json(signed_bytes, keys));
  return canonical_json(file);
}

Result<ChannelFile> split_channel(std::string_view file_bytes) {
  auto parsed = parse_canonical_json(file_bytes, JsonLimits{kMaxChannelBytes, 10});
  if (!parsed) return bad("channel file is " + parsed.error().message());
  if (!parsed->is_object()) return bad("channel file must be a JSON object");
  ChannelFile out;
  json top = *parsed;
  if (top.contains("rollout")) {
    if (!top["rollout"].is_object()) return bad("\"rollout\" must be an object");
    Fields rf(top["rollout"], "rollout.");
    EF_ASSIGN(out.rollout, read_part(rf, "rollout state"));
    top.erase("rollout");
  }
  Fields f(top, "");
  EF_ASSIGN(SignedPart doc, read_part(f, "channel"));
  out.signed_bytes = std::move(doc.signed_bytes);
  out.signatures = std::move(doc.signatures);
  return out;
}

Result<std::string> encode_rollout_state(const RolloutState& s) {
  json opened = json::object();
  for (const auto& [wave, at] : s.opened) opened[wave] = format_utc(at);
  json j = {{"formatVersion", kChannelFormatVersion},
            {"channel", s.channel},
            {"release", s.release.str()},
            {"artifactSha256", s.artifact_sha256},
            {"version", s.version},
            {"issued", format_utc(s.issued)},
            {"expires", format_utc(s.expires)},
            {"paused", s.paused},
            {"reason", s.reason},
            {"opened", opened}};
  if (s.resumed) j["resumed"] = format_utc(*s.resumed);
  auto bytes = canonical_json(j);
  if (!bytes) return bytes.error();
  if (auto back = parse_rollout_state(*bytes); !back)
    return Error(Errc::invalid_argument, "cannot encode rollout state: " + back.error().message());
  return bytes;
}

Result<RolloutState> parse_rollout_state(std::string_view bytes) {
  auto parsed = parse_canonical_json(bytes, JsonLimits{kMaxChannelBytes, 4});
  if (!parsed) return bad("rollout state is " + parsed.error().message());
  if (!parsed->is_object()) return bad("rollout state must be a JSON object");
  Fields f(*parsed, "rollout.signed.");
  RolloutState s;
  EF_ASSIGN(uint32_t format, f.uint32("formatVersion"));
  if (format != kChannelFormatVersion)
    return bad("rollout state format version " + std::to_string(format) + " is not supported");
  EF_ASSIGN(s.channel, f.string("channel", 64));
  EF_TRY(check_channel_name(s.channel));
  EF_ASSIGN(std::string release, f.string("release", 128));
  auto v = SemVer::parse(release);
  if (!v) return bad("rollout.signed.release: " + v.error().message());
  s.release = *v;
  EF_ASSIGN(s.artifact_sha256, f.string("artifactSha256", 64));
  if (!is_sha256_hex(s.artifact_sha256))
    return bad("rollout.signed.artifactSha256: 64 lower-case hex digits");
  EF_ASSIGN(s.version, f.uint("version"));
  if (s.version == 0) return bad("rollout.signed.version must be at least 1");
  EF_ASSIGN(s.issued, f.time("issued"));
  EF_ASSIGN(s.expires, f.time("expires"));
  if (s.expires <= s.issued) return bad("rollout.signed.expires must be after issued");
  EF_ASSIGN(s.paused, f.boolean("paused"));
  EF_ASSIGN(s.reason, f.string("reason", 1024));
  if (f.has("resumed")) {
    EF_ASSIGN(s.resumed, f.time("resumed"));
  }
  EF_ASSIGN(const json* opened, f.object("opened"));
  if (opened->size() > kMaxWaves) return bad("rollout.signed.opened names more than 64 waves");
  for (const auto& [wave, at] : opened->items()) {
    if (!at.is_string()) return bad("rollout.signed.opened." + wave + ": a time");
    auto t = parse_utc(at.get<std::string>());
    if (!t) return bad("rollout.signed.opened." + wave + ": " + t.error().message());
    s.opened[wave] = *t;
  }
  EF_TRY(f.finish());
  return s;
}

Result<std::string> with_rollout_state(std::string_view file_bytes, const RolloutState& state,
                                       const std::vector<const signing::SigningKey*>& keys) {
  if (keys.empty())
    return Error(Errc::invalid_argument, "a rollout state needs at least one signing key");
  EF_ASSIGN(ChannelFile file, split_channel(file_bytes));
  EF_ASSIGN(std::string state_bytes, encode_rollout_state(state));
  EF_ASSIGN(json out, part_json({file.signed_bytes, file.signatures}));
  EF_ASSIGN(out["rollout"], signed_part_json(state_bytes, keys));
  return canonical_json(out);
}

Result<std::string> carry_rollout_state(std::string_view file_bytes, std::string_view from) {
  EF_ASSIGN(ChannelFile file, split_channel(file_bytes));
  EF_ASSIGN(json out, part_json({file.signed_bytes, file.signatures}));
  auto old = split_channel(from);
  if (old && old->rollout) {
    EF_ASSIGN(ChannelDoc doc, parse_doc(file.signed_bytes));
    auto state = parse_rollout_state(old->rollout->signed_bytes);
    const Artifact* a = !doc.release ? nullptr
                        : doc.release->head
                            ? &*doc.release->head
                            : (doc.release->bundle ? &*doc.release->bundle : nullptr);
    if (state && a && state->channel == doc.channel && state->release == doc.release->version &&
        state->artifact_sha256 == a->sha256) {
      EF_ASSIGN(out["rollout"], part_json(*old->rollout));
    }
  }
  return canonical_json(out);
}

namespace {

/// The artifact a device installs the release from: its head, else its bundle.
const Artifact* release_artifact(const ChannelDoc& doc) {
  if (!doc.release) return nullptr;
  if (doc.release->head) return &*doc.release->head;
  return doc.release->bundle ? &*doc.release->bundle : nullptr;
}

/// The rollout state beside a verified document: signed by a channel key or
/// a rollout key, about this channel, and for this release (else ignored,
/// with a note). One seen before for this release must not go back or
/// vanish: that would be a replay, or a pause stripped on the way.
Result<void> take_rollout_state(const ChannelFile& file, const signing::Keyring& keyring,
                                const TrustPolicy& policy, VerifiedChannel& v) {
  const ChannelDoc& doc = v.doc;
  const std::string name = "channel \"" + doc.channel + "\"";
  std::optional<RolloutState> state;
  if (file.rollout) {
    const char* what = "the rollout state (altered or corrupt)";
    auto trusted = signing::find_trusted_signature(file.rollout->signed_bytes,
                                                   file.rollout->signatures, keyring, what);
    if (!trusted && policy.rollout_keyring)
      trusted = signing::find_trusted_signature(
          file.rollout->signed_bytes, file.rollout->signatures, *policy.rollout_keyring, what);
    if (!trusted) return trusted.error().with_context(name);
    EF_ASSIGN(RolloutState s, parse_rollout_state(file.rollout->signed_bytes));
    if (s.channel != doc.channel)
      return bad(name + " carries the rollout state of channel \"" + s.channel + "\"");
    const Artifact* a = release_artifact(doc);
    if (!a || s.release != doc.release->version || s.artifact_sha256 != a->sha256) {
      v.state_note =
          "the rollout state is about release " + s.release.str() + ", not the channel's; ignored";
    } else {
      state = std::move(s);
      v.state_key_id = trusted->key_id;
    }
  }
  if (doc.release && policy.last_state_version > 0 &&
      policy.last_release == doc.release->version.str()) {
    const std::string seen = "rollout state version " + std::to_string(policy.last_state_version) +
                             " of release " + policy.last_release + " seen before";
    if (!state)
      return Error(Errc::refused, name + " comes without its rollout state (" + seen +
                                      "): a pause may have been stripped on the way; ignored");
    if (state->version < policy.last_state_version)
      return Error(Errc::refused, name + " carries rollout state version " +
                                      std::to_string(state->version) + ", older than the " + seen +
                                      " (a replay); ignored");
  }
  v.doc.state = std::move(state);
  return Ok{};
}

}  // namespace

Result<VerifiedChannel> verify_channel(std::string_view file_bytes, const signing::Keyring& keyring,
                                       const TrustPolicy& policy) {
  EF_ASSIGN(ChannelFile file, split_channel(file_bytes));
  auto trusted = signing::find_trusted_signature(file.signed_bytes, file.signatures, keyring,
                                                 "the channel (altered or corrupt)");
  if (!trusted) return trusted.error().with_context("channel");
  EF_ASSIGN(ChannelDoc doc, parse_doc(file.signed_bytes));
  std::string sha = sha256_hex(file.signed_bytes);
  std::string name = "channel \"" + doc.channel + "\" version " + std::to_string(doc.version);
  if (!policy.channel.empty() && doc.channel != policy.channel)
    return Error(Errc::refused, name + " is not channel \"" + policy.channel + "\"");
  if (doc.version < policy.last_version)
    return Error(Errc::refused, name + " is older than version " +
                                    std::to_string(policy.last_version) +
                                    " seen before (a replay or a rolled-back server); ignored");
  if (doc.version == policy.last_version && !policy.last_sha256.empty() &&
      policy.last_sha256 != sha)
    return Error(Errc::refused, name + " differs from the version " + std::to_string(doc.version) +
                                    " seen before under the same number; ignored");
  if (policy.now + static_cast<int64_t>(policy.max_clock_skew) < doc.issued)
    return Error(Errc::refused, "the device clock reads " + format_utc(policy.now) + ", before " +
                                    name + " was issued (" + format_utc(doc.issued) +
                                    "): set the clock (NTP) first");
  if (policy.now >= doc.expires)
    return Error(Errc::refused, name + " expired at " + format_utc(doc.expires) +
                                    " (device clock " + format_utc(policy.now) +
                                    "): the operator must re-sign it (edgeforge channel refresh)");
  VerifiedChannel out{std::move(doc), std::move(sha), trusted->key_id, "", ""};
  EF_TRY(take_rollout_state(file, keyring, policy, out));
  return out;
}

}  // namespace ef::channel
