#include "agent/fleet_client.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "device/fleet_request.hpp"
#include "device/site.hpp"
#include "signing/bundle_format.hpp"
#include "util/atomic_file.hpp"
#include "util/http_client.hpp"
#include "util/json_fields.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormatVersion = 1;

std::string trimmed(std::string s) {
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return std::isspace(c); }), s.end());
  return s;
}

/// The queue's file name for report `n`: fixed width, so names sort as numbers.
std::string entry_name(uint64_t n) {
  std::string digits = std::to_string(n);
  return std::string(20 - digits.size(), '0') + digits + ".json";
}

std::string api_url(const std::string& endpoint, const std::string& path) {
  std::string base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + path;
}

/// The error code of a service's answer ({"error": {"code": ...}}), or "".
std::string error_code(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  json code = j["error"].value("code", json());
  return code.is_string() ? code.get<std::string>() : "";
}

/// The service's one-line reason from an error body, or the status.
std::string service_says(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  std::string what = "HTTP " + std::to_string(r.status);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].value("message", json()).is_string())
    what += ": " + j["error"]["message"].get<std::string>();
  return what;
}

}  // namespace

Result<std::optional<FleetRegistration>> load_registration(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<FleetRegistration>{};
  EF_ASSIGN(std::string text, read_file(path));
  EF_ASSIGN(site::Site s, site::parse_site(text, path.string()));
  if (s.registration_endpoint.empty()) return std::optional<FleetRegistration>{};
  if (!s.registration_endpoint.starts_with("http://") &&
      !s.registration_endpoint.starts_with("https://"))
    return Error(Errc::invalid_argument, path.string() + ": registration.endpoint \"" +
                                             s.registration_endpoint +
                                             "\" is not an http:// or https:// URL");
  FleetRegistration r;
  r.endpoint = s.registration_endpoint;
  r.token = s.registration_token;
  r.device_id = s.registration_device_id;
  return std::optional<FleetRegistration>(r);
}

Result<std::string> resolve_device_id(const std::string& override_id, const std::string& from,
                                      const DeviceIdSources& sources) {
  if (!override_id.empty()) return override_id;
  const fs::path& file = from == "serial" ? sources.serial : sources.machine_id;
  auto text = read_file(file);
  if (!text) return text.error().with_context("the device ID");
  std::string id = trimmed(*text);
  if (id.empty())
    return Error(Errc::invalid_argument,
                 file.string() + " is empty: the device has no ID; give --device-id");
  return id;
}

Result<uint64_t> ReportQueue::push(const std::string& body) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error(Errc::io, dir_.string() + ": " + ec.message());
  EF_ASSIGN(auto all, entries());
  uint64_t next = all.empty() ? 1 : all.back().number + 1;
  EF_TRY(write_file_atomic(dir_ / entry_name(next), body));
  all.push_back({dir_ / entry_name(next), next, body});
  size_t bytes = 0;
  for (const auto& e : all) bytes += e.body.size();
  uint64_t dropped = 0;
  // The newest report always stays, even alone over the byte limit.
  for (size_t i = 0;
       i + 1 < all.size() && (all.size() - i > limits_.max_reports || bytes > limits_.max_bytes);
       ++i) {
    EF_TRY(remove(all[i]));
    bytes -= all[i].body.size();
    ++dropped;
  }
  return dropped;
}

Result<std::vector<ReportQueue::Entry>> ReportQueue::entries() const {
  std::vector<Entry> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    std::string name = f.path().filename().string();
    if (name.size() != 25 || !name.ends_with(".json") ||
        !std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
      continue;  // AtomicFile's temporaries and anything else
    Entry e{f.path(), std::stoull(name.substr(0, 20)), ""};
    auto body = read_file(f.path());
    if (!body || json::parse(*body, nullptr, false).is_discarded()) {
      fs::remove(f.path(), ec);  // a report a crash cut short is of no use
      continue;
    }
    e.body = std::move(*body);
    out.push_back(std::move(e));
  }
  if (ec) return Error(Errc::io, dir_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.number < b.number; });
  return out;
}

Result<void> ReportQueue::remove(const Entry& entry) {
  std::error_code ec;
  fs::remove(entry.file, ec);
  if (ec) return Error(Errc::io, entry.file.string() + ": " + ec.message());
  return Ok{};
}

Result<FleetClient> FleetClient::open(const FleetOptions& o) {
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) return Error(Errc::io, o.dir.string() + ": " + ec.message());
  ::chmod(o.dir.c_str(), 0700);
  // One client at a time (the heartbeat, a watch, a boot): the key is made
  // once, queue numbers and sequence numbers are never taken twice.
  EF_ASSIGN(AgentLock lock, AgentLock::acquire(o.dir / "lock", o.lock_wait_seconds,
                                               "another edgeforge-agent sending reports"));
  const fs::path key_path = o.dir / "device.key";
  std::optional<signing::SigningKey> key;
  if (fs::exists(key_path, ec)) {
    auto loaded = signing::SigningKey::load(key_path.string());
    if (!loaded)
      return Error(loaded.error().code(),
                   key_path.string() +
                       ": the device key does not load; move it away to make a new one (the "
                       "service then needs the device removed before it registers again)");
    key = std::move(*loaded);
  } else {
    // First start: a new key, written 0600 before anything uses it.
    EF_ASSIGN(auto made, signing::SigningKey::generate(signing::Algorithm::ed25519));
    EF_ASSIGN(std::string pem, made.private_pem());
    EF_ASSIGN(AtomicFile f, AtomicFile::create(key_path));
    if (::fchmod(f.fd(), 0600) != 0) return Error(Errc::io, key_path.string() + ": chmod failed");
    EF_TRY(f.write(pem));
    EF_TRY(f.commit());
    key = std::move(made);
  }
  if (key->algorithm() != signing::Algorithm::ed25519)
    return Error(Errc::invalid_argument, key_path.string() + ": the device key is not Ed25519");

  FleetClient c(o, std::move(*key), std::move(lock));
  const fs::path state_path = o.dir / "fleet.json";
  if (fs::exists(state_path, ec)) {
    EF_ASSIGN(std::string text, read_file(state_path));
    json j = json::parse(text, nullptr, false);
    try {
      if (j.is_discarded() || json_integer<int>(j.at("formatVersion")) != kFormatVersion)
        throw std::runtime_error("not a fleet state of format version 1");
      // Registered under another ID or with another service: register again.
      if (j.at("deviceId").get<std::string>() == o.device_id &&
          j.at("endpoint").get<std::string>() == o.registration.endpoint)
        c.state_ = j.at("state").get<std::string>();
      c.seq_ = json_integer<int64_t>(j.at("seq"));
      c.dropped_ = json_integer<uint64_t>(j.at("dropped"));
    } catch (const std::exception& e) {
      return Error(Errc::invalid_argument,
                   state_path.string() + ": " + e.what() +
                       "; move it away to start over (the device registers again)");
    }
  }
  return c;
}

Result<void> FleetClient::save() const {
  json j = {{"formatVersion", kFormatVersion},
            {"deviceId", options_.device_id},
            {"endpoint", options_.registration.endpoint},
            {"state", state_},
            {"seq", seq_},
            {"dropped", dropped_}};
  return write_file_atomic(options_.dir / "fleet.json", j.dump(2) + "\n");
}

Result<void> FleetClient::queue(json report, UnixSeconds now) {
  report["deviceId"] = options_.device_id;
  report["reported"] = format_utc(now);
  report["droppedReports"] = dropped_;
  ReportQueue q(options_.dir / "queue", options_.limits);
  EF_ASSIGN(uint64_t dropped, q.push(report.dump()));
  if (dropped > 0) {
    dropped_ += dropped;
    EF_TRY(save());
  }
  return Ok{};
}

Result<std::string> FleetClient::register_device() {
  HttpClient client(options_.http);
  HttpRequest request;
  request.method = "POST";
  request.url = api_url(options_.registration.endpoint, "/api/v1/register");
  request.headers = {"Content-Type: application/json"};
  request.body = json{{"deviceId", options_.device_id},
                      {"publicKey", key_.public_key().pem()},
                      {"token", options_.registration.token}}
                     .dump();
  request.max_bytes = 64 * 1024;
  EF_ASSIGN(HttpResponse r, client.send(request));
  if (r.status != 200)
    return Error(r.status == 403 ? Errc::refused : Errc::network,
                 "registering with " + options_.registration.endpoint + ": " + service_says(r));
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.value("state", json()).is_string())
    return Error(Errc::network, "registering with " + options_.registration.endpoint +
                                    ": the answer names no state");
  return j["state"].get<std::string>();
}

Result<FlushResult> FleetClient::flush(UnixSeconds now) {
  FlushResult out;
  ReportQueue q(options_.dir / "queue", options_.limits);
  if (state_.empty()) {
    auto s = register_device();
    if (!s) {
      EF_ASSIGN(auto left, q.entries());
      out.queued = left.size();
      out.error = s.error().message();
      return out;
    }
    state_ = *s;
    EF_TRY(save());
  }
  out.state = state_;

  const std::string path = "/api/v1/devices/" + options_.device_id + "/reports";
  HttpClient client(options_.http);
  EF_ASSIGN(auto entries, q.entries());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    // Above every number used before, and at least the clock in
    // milliseconds: a device that lost fleet.json carries on above its old
    // numbers instead of being taken for a replay.
    seq_ = std::max(seq_ + 1, static_cast<int64_t>(now) * 1000);
    EF_TRY(save());  // before sending: a number is never used twice
    std::string message =
        device::fleet_request_message("POST", path, options_.device_id, seq_, now, e.body);
    EF_ASSIGN(std::string signature, key_.sign(message));
    HttpRequest request;
    request.method = "POST";
    request.url = api_url(options_.registration.endpoint, path);
    request.headers = {
        "Content-Type: application/json",
        std::string(device::kFleetDeviceHeader) + ": " + options_.device_id,
        std::string(device::kFleetSeqHeader) + ": " + std::to_string(seq_),
        std::string(device::kFleetTimeHeader) + ": " + std::to_string(now),
        std::string(device::kFleetSignatureHeader) + ": " + signing::base64_encode(signature)};
    request.body = e.body;
    request.max_bytes = 64 * 1024;
    auto r = client.send(request);
    if (!r) {
      out.error = r.error().message();
      out.queued = entries.size() - i;
      return out;
    }
    if (r->status == 200 || r->status == 409 || r->status == 400 || r->status == 413 ||
        r->status == 415) {
      // Taken, taken before (409), or never takeable: it leaves the queue.
      EF_TRY(q.remove(e));
      if (r->status == 200) ++out.sent;
      continue;
    }
    if (r->status == 403 && error_code(*r) == "not_approved") {
      state_ = "unpaired";
    } else if (r->status == 401) {
      // The service does not know this key (any more): register again next time.
      state_.clear();
    }
    EF_TRY(save());
    out.state = state_;
    out.error = "report to " + options_.registration.endpoint + ": " + service_says(*r);
    out.queued = entries.size() - i;
    return out;
  }
  if (state_ == "unpaired" && out.sent > 0) state_ = "ready";
  EF_TRY(save());
  out.state = state_;
  return out;
}

}  // namespace ef::agent
