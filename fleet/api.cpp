#include "fleet/api.hpp"

#include <nlohmann/json.hpp>

#include "device/fleet_request.hpp"
#include "fleet/dashboard.hpp"
#include "fleet/rollup.hpp"
#include "signing/bundle_format.hpp"
#include "signing/keys.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;

// Answers quote what the client sent (paths, IDs), which need not be
// UTF-8: such bytes are written as U+FFFD, never thrown out of the service.
ApiResponse answer(int status, const json& body) {
  ApiResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

ApiResponse problem(int status, const std::string& code, const std::string& message) {
  return answer(status, {{"error", {{"code", code}, {"message", message}}}});
}

/// The status an error of the registry gets.
ApiResponse failure(const Error& e) {
  switch (e.code()) {
    case Errc::invalid_argument:
      return problem(400, "invalid", e.message());
    case Errc::not_found:
      return problem(404, "not_found", e.message());
    case Errc::refused:
      return problem(403, "refused", e.message());
    case Errc::database: {
      // The database is away: the caller tries again; nothing was taken.
      ApiResponse r = problem(503, "unavailable", "the fleet database is unavailable; try again");
      r.headers["Retry-After"] = "5";
      return r;
    }
    default:
      return problem(500, "internal", e.message());
  }
}

bool parse_int(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) return false;
  for (size_t k = i; k < text.size(); ++k)
    if (text[k] < '0' || text[k] > '9') return false;
  out = std::stoll(text);
  return true;
}

/// The body as a JSON object, or the response that refuses it.
std::optional<ApiResponse> json_body(const ApiRequest& r, json& out) {
  std::string type = header(r, "content-type");
  if (type.substr(0, type.find(';')) != "application/json")
    return problem(415, "unsupported_media_type", "send Content-Type: application/json");
  out = json::parse(r.body, nullptr, false);
  if (out.is_discarded() || !out.is_object())
    return problem(400, "invalid", "the body is not a JSON object");
  return std::nullopt;
}

json device_json(const Device& d) {
  json j = {{"id", d.id},
            {"state", device_state_name(d.state)},
            {"created", format_utc(d.created)},
            {"registered", d.registered ? json(format_utc(*d.registered)) : json()},
            {"lastReport", d.last_report ? json(format_utc(*d.last_report)) : json()},
            {"lastSeq", d.last_seq},
            {"channel", d.placement.channel},
            {"release", d.placement.release},
            {"running", d.placement.running},
            {"wave", d.placement.wave},
            {"phase", d.placement.phase},
            {"phaseSince", d.phase_since ? json(format_utc(d.phase_since)) : json()},
            {"error", d.placement.error},
            {"tags", d.placement.tags}};
  json status = d.status.empty() ? json() : json::parse(d.status, nullptr, false);
  j["status"] = status.is_discarded() ? json() : status;
  return j;
}

}  // namespace

Api::Api(Registry& registry, ApiConfig config, RolloutControl* rollouts)
    : registry_(registry),
      config_(std::move(config)),
      rollouts_(rollouts),
      dashboard_(std::make_unique<Dashboard>(registry_, config_, rollouts_)) {}

Api::~Api() = default;

std::string header(const ApiRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string Api::operator_name(const ApiRequest& r) const {
  std::string auth = header(r, "authorization");
  if (!auth.starts_with("Bearer ") || auth.size() <= 7) return "";
  std::string digest = sha256_hex(auth.substr(7));
  for (const auto& o : config_.operators)
    if (o.token_sha256 == digest) return o.name;
  return "";
}

ApiResponse Api::handle(const ApiRequest& r) {
  if (r.body.size() > config_.max_body)
    return problem(413, "too_large",
                   "the body is over " + std::to_string(config_.max_body) + " bytes");
  if (!r.path.starts_with("/api/") && r.path != "/api") return dashboard_->handle(r);
  auto parts = split_path(r.path);
  if (parts.size() < 2 || parts[0] != "api" || parts[1] != "v1")
    return problem(404, "not_found", "no such endpoint " + r.path.substr(0, 200));
  parts.erase(parts.begin(), parts.begin() + 2);

  if (parts.size() == 1 && parts[0] == "health" && r.method == "GET") {
    if (auto up = registry_.check(); !up) return failure(up.error());
    return answer(200, {{"ok", true}});
  }
  if (parts.size() == 1 && parts[0] == "register") {
    if (r.method != "POST") return problem(405, "method_not_allowed", "POST only");
    return register_device(r);
  }
  // A device POSTs its reports; operators GET them (below, with a token).
  if (parts.size() == 3 && parts[0] == "devices" && parts[2] == "reports" && r.method != "GET") {
    if (r.method != "POST") return problem(405, "method_not_allowed", "POST or GET only");
    return report(r, parts[1]);
  }
  // Everything else is the operators'. A device's signature opens none of it.
  if (!is_operator(r)) {
    ApiResponse denied = problem(401, "unauthorized", "an operator token is needed");
    denied.headers["WWW-Authenticate"] = "Bearer realm=\"edgeforge-fleet\"";
    return denied;
  }
  return operator_call(r, parts);
}

ApiResponse Api::register_device(const ApiRequest& r) {
  json body;
  if (auto bad = json_body(r, body)) return *bad;
  if (!body["deviceId"].is_string() || !body["publicKey"].is_string() || !body["token"].is_string())
    return problem(400, "invalid", "registration needs deviceId, publicKey and token (strings)");
  auto s = registry_.register_device(body["deviceId"].get<std::string>(),
                                     body["publicKey"].get<std::string>(),
                                     body["token"].get<std::string>(), r.now);
  if (!s) return failure(s.error());
  return answer(200, {{"deviceId", body["deviceId"]}, {"state", device_state_name(*s)}});
}

ApiResponse Api::report(const ApiRequest& r, const std::string& id) {
  // Who signed it: the device named in the path, with the key it registered.
  int64_t seq = 0, time = 0;
  std::string who = header(r, "x-edgeforge-device");
  if (who != id)
    return problem(403, "refused",
                   std::string("a device reports only for itself (") + device::kFleetDeviceHeader +
                       " must name " + id.substr(0, 128) + ")");
  if (!parse_int(header(r, "x-edgeforge-seq"), seq) ||
      !parse_int(header(r, "x-edgeforge-time"), time))
    return problem(401, "unauthorized",
                   std::string("a signed report needs ") + device::kFleetSeqHeader + " and " +
                       device::kFleetTimeHeader);
  auto signature = signing::base64_decode(header(r, "x-edgeforge-signature"));
  if (!signature)
    return problem(401, "unauthorized",
                   std::string("no valid ") + device::kFleetSignatureHeader + " (base64)");
  const std::string message =
      device::fleet_request_message(r.method, r.path, id, seq, time, r.body);
  // Signed with the key the device had when its row was last read here: the
  // report is taken by one statement that also checks that this is still
  // its registered key, without reading the row first. Whatever is not
  // taken that way (another key, not ready, a replay, a bad body) goes the
  // whole way below, which says why.
  if (auto known = keys_.find(id); known && known->second->verify(message, *signature)) {
    json body;
    if (!json_body(r, body)) {
      auto taken = registry_.accept_report_if_key(id, known->first, seq, body.dump(), r.now);
      if (!taken) return failure(taken.error());
      if (*taken) return answer(200, {{"deviceId", id}, {"seq", seq}});
    }
  }
  auto d = registry_.device(id);
  if (!d) return failure(d.error());
  // An unknown device and a bad signature look the same from outside.
  const char* not_verified = "the signature is not the registered device key's";
  if (!*d || (*d)->public_key.empty()) return problem(401, "unauthorized", not_verified);
  auto key = keys_.get(id, (*d)->public_key);
  if (!key) return failure(key.error());
  if (!(*key)->verify(message, *signature)) return problem(401, "unauthorized", not_verified);
  if ((*d)->state != DeviceState::ready)
    return problem(403, "not_approved",
                   "device " + id + " is " + device_state_name((*d)->state) +
                       "; its reports are taken once an operator approves it");

  json body;
  if (auto bad = json_body(r, body)) return *bad;
  auto taken = registry_.accept_report(id, seq, body.dump(), r.now);
  if (!taken) {
    if (taken.error().code() == Errc::refused &&
        taken.error().message().find("is not after") != std::string::npos)
      return problem(409, "replayed", taken.error().message());
    return failure(taken.error());
  }
  return answer(200, {{"deviceId", id}, {"seq", seq}});
}

ApiResponse Api::operator_call(const ApiRequest& r, const std::vector<std::string>& parts) {
  if (parts.size() == 1 && parts[0] == "status" && r.method == "GET") {
    auto all = registry_.devices();
    if (!all) return failure(all.error());
    RollupOptions o;
    o.now = r.now;
    o.silent_after_seconds = config_.silent_after_seconds;
    return answer(200, rollup(*all, o));
  }
  if (parts.size() == 1 && parts[0] == "channels" && r.method == "GET") {
    if (!rollouts_) return answer(200, {{"channels", json::array()}});
    auto list = rollouts_->channels(r.now);
    if (!list) return failure(list.error());
    return answer(200, *list);
  }
  if (parts.size() == 3 && parts[0] == "channels" &&
      (parts[2] == "pause" || parts[2] == "resume") && r.method == "POST") {
    json body = json::object();
    if (!r.body.empty())
      if (auto bad = json_body(r, body)) return *bad;
    if (body.contains("reason") && !body["reason"].is_string())
      return problem(400, "invalid", "reason is a string");
    if (!rollouts_) return problem(404, "not_found", "this service watches no channel");
    const std::string who = operator_name(r);
    auto done =
        parts[2] == "pause"
            ? rollouts_->pause(parts[1], who, body.value("reason", "paused by " + who), r.now)
            : rollouts_->resume(parts[1], who, r.now);
    if (!done) return failure(done.error());
    return answer(200, {{"channel", parts[1]}, {"paused", parts[2] == "pause"}});
  }
  if (parts.size() == 3 && parts[0] == "devices" && parts[2] == "reports" && r.method == "GET") {
    auto reports = registry_.reports(parts[1], 20);
    if (!reports) return failure(reports.error());
    json list = json::array();
    for (const auto& rep : *reports) {
      json body = json::parse(rep.body, nullptr, false);
      list.push_back({{"seq", rep.seq},
                      {"received", format_utc(rep.received)},
                      {"report", body.is_discarded() ? json() : body}});
    }
    return answer(200, {{"deviceId", parts[1]}, {"reports", list}});
  }
  if (parts.size() == 1 && parts[0] == "devices" && r.method == "GET") {
    auto all = registry_.devices();
    if (!all) return failure(all.error());
    json list = json::array();
    for (const auto& d : *all) list.push_back(device_json(d));
    return answer(200, {{"devices", list}});
  }
  if (parts.size() == 2 && parts[0] == "devices" && r.method == "GET") {
    auto d = registry_.device(parts[1]);
    if (!d) return failure(d.error());
    if (!*d) return problem(404, "not_found", "no device " + parts[1].substr(0, 128));
    return answer(200, device_json(**d));
  }
  if (parts.size() == 3 && parts[0] == "devices" && parts[2] == "approve" && r.method == "POST") {
    auto ok = registry_.approve(parts[1]);
    if (!ok) return failure(ok.error());
    return answer(200, {{"deviceId", parts[1]}, {"state", "ready"}});
  }
  if (parts.size() == 1 && parts[0] == "import" && r.method == "POST") {
    json body;
    if (auto bad = json_body(r, body)) return *bad;
    std::vector<std::string> ids;
    if (!body["devices"].is_array())
      return problem(400, "invalid", "import needs \"devices\": [ID, ...]");
    for (const auto& id : body["devices"]) {
      if (!id.is_string()) return problem(400, "invalid", "device IDs are strings");
      ids.push_back(id.get<std::string>());
    }
    auto added = registry_.import_devices(ids, r.now);
    if (!added) return failure(added.error());
    return answer(200, {{"imported", *added}, {"known", ids.size() - *added}});
  }
  if (parts.size() == 1 && parts[0] == "tokens" && r.method == "POST") {
    json body;
    if (auto bad = json_body(r, body)) return *bad;
    TokenSpec spec;
    if (body.contains("lifetimeSeconds")) {
      if (!body["lifetimeSeconds"].is_number_unsigned() || body["lifetimeSeconds"] == 0)
        return problem(400, "invalid", "lifetimeSeconds must be a whole number above 0");
      spec.lifetime_seconds = body["lifetimeSeconds"].get<uint64_t>();
    }
    if (body.contains("singleUse")) {
      if (!body["singleUse"].is_boolean()) return problem(400, "invalid", "singleUse: true|false");
      spec.single_use = body["singleUse"].get<bool>();
    }
    if (body.contains("autoApprove")) {
      if (!body["autoApprove"].is_boolean())
        return problem(400, "invalid", "autoApprove: true|false");
      spec.auto_approve = body["autoApprove"].get<bool>();
    }
    auto token = registry_.create_token(spec, r.now);
    if (!token) return failure(token.error());
    return answer(201,
                  {{"token", *token},
                   {"expires", format_utc(r.now + static_cast<int64_t>(spec.lifetime_seconds))},
                   {"singleUse", spec.single_use},
                   {"autoApprove", spec.auto_approve}});
  }
  return problem(404, "not_found", "no such endpoint " + r.method + " " + r.path.substr(0, 200));
}

}  // namespace ef::fleet
