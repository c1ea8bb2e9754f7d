#include "tests/fleet/load/fleet_load.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <ostream>

#include "device/fleet_request.hpp"
#include "signing/bundle_format.hpp"
#include "signing/keys.hpp"
#include "tests/fleet/load/http_driver.hpp"
#include "tests/fleet/load/latency_histogram.hpp"
#include "tests/fleet/load/proc_stats.hpp"
#include "util/sha256.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet::load {
namespace {

using nlohmann::json;
constexpr double kNsPerSecond = 1e9;

// ---- the simulated devices -------------------------------------------------

struct Device {
  std::string id;
  signing::SigningKey key;
  std::string path;                  // /api/v1/devices/ID/reports
  std::string body_head, body_tail;  // the report around its uptime
  int64_t next_seq = 0;
  int64_t uptime = 0;
  bool registered = false;
  bool in_flight = false;
};

/// `uptime` stands in the rendered report where this marker is.
constexpr int64_t kUptimeMarker = 987654321987654321;

std::string hex_of(const std::string& seed) {
  return sha256_hex(seed);
}

std::string http_head(const std::string& method, const std::string& path, const Target& t,
                      size_t body_size) {
  return method + " " + path + " HTTP/1.1\r\nHost: " + t.host + ":" + std::to_string(t.port) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body_size) +
         "\r\n";
}

json latency_json(const LatencyHistogram& h) {
  auto ms = [](uint64_t micros) { return static_cast<double>(micros) / 1000.0; };
  return {{"p50", ms(h.percentile(50))},
          {"p90", ms(h.percentile(90))},
          {"p99", ms(h.percentile(99))},
          {"max", ms(h.max())},
          {"mean", h.mean() / 1000.0}};
}

std::string status_name(int status) {
  return status == 0 ? "connection" : std::to_string(status);
}

// ---- what the processes used over a phase ------------------------------------

struct Usage {
  int64_t wall_ns = 0;
  double own = 0, machine = 0;
  std::vector<double> services;
  std::map<pid_t, double> database;  // each process of the server's tree
};

Usage usage_now(const LoadOptions& o) {
  Usage u;
  u.wall_ns = monotonic_ns();
  u.own = own_cpu_seconds();
  u.machine = machine_busy_seconds();
  for (pid_t p : o.service_pids) u.services.push_back(process_cpu_seconds(p).value_or(0));
  if (o.database_pid > 0)
    for (pid_t p : process_tree(o.database_pid))
      if (auto s = process_cpu_seconds(p)) u.database[p] = *s;
  return u;
}

json usage_json(const Usage& a, const Usage& b) {
  const double wall = static_cast<double>(b.wall_ns - a.wall_ns) / kNsPerSecond;
  auto cores = [wall](double seconds) { return wall > 0 ? seconds / wall : 0.0; };
  json services = json::array();
  double service_total = 0;
  for (size_t i = 0; i < a.services.size() && i < b.services.size(); ++i) {
    services.push_back(cores(b.services[i] - a.services[i]));
    service_total += b.services[i] - a.services[i];
  }
  json j = {{"generator", cores(b.own - a.own)},
            {"service", cores(service_total)},
            {"perService", services},
            {"machine", cores(b.machine - a.machine)}};
  if (!b.database.empty()) {
    double db = 0;
    // A backend that started during the phase counts from zero.
    for (const auto& [pid, seconds] : b.database) {
      auto before = a.database.find(pid);
      db += seconds - (before == a.database.end() ? 0.0 : before->second);
    }
    j["database"] = cores(db);
  }
  return j;
}

json memory_json(const LoadOptions& o) {
  json rss = json::array(), hwm = json::array();
  for (pid_t p : o.service_pids) {
    auto m = process_memory(p);
    rss.push_back(m ? m->rss_kib : 0);
    hwm.push_back(m ? m->hwm_kib : 0);
  }
  return {{"rssKiB", rss}, {"hwmKiB", hwm}};
}

// ---- workloads ----------------------------------------------------------------

/// Each device's registration, sent again after a failure that may pass (no
/// answer, 503), up to ten times.
class RegisterWorkload final : public Workload {
 public:
  RegisterWorkload(std::vector<Device>& devices, const std::vector<Target>& targets,
                   std::string token)
      : devices_(devices), targets_(targets), token_(std::move(token)) {
    for (size_t i = 0; i < devices.size(); ++i) queue_.push_back(i);
  }

  std::optional<Request> next(size_t target, int64_t, int64_t&) override {
    if (cursor_ >= queue_.size()) return std::nullopt;
    const size_t i = queue_[cursor_++];
    const Device& d = devices_[i];
    const std::string body =
        json{{"deviceId", d.id}, {"publicKey", d.key.public_key().pem()}, {"token", token_}}.dump();
    Request r;
    r.bytes = http_head("POST", "/api/v1/register", targets_[target], body.size()) + "\r\n" + body;
    r.tag = i;
    return r;
  }

  void answered(const Request& r, int status, std::string_view body, int64_t,
                int64_t latency_ns) override {
    Device& d = devices_[r.tag];
    if (status == 200 && body.find("\"state\":\"ready\"") != std::string_view::npos) {
      d.registered = true;
      latency.record(static_cast<uint64_t>(latency_ns / 1000));
      return;
    }
    ++errors[status == 200 ? "200-not-ready" : status_name(status)];
    // A device tries again later, as the agent does; here at the end of the queue.
    if ((status == 0 || status == 503) && ++attempts_[r.tag] < 10) queue_.push_back(r.tag);
  }

  bool finished(int64_t) override { return cursor_ >= queue_.size(); }

  LatencyHistogram latency;
  std::map<std::string, uint64_t> errors;

 private:
  std::vector<Device>& devices_;
  const std::vector<Target>& targets_;
  std::string token_;
  std::vector<size_t> queue_;
  size_t cursor_ = 0;
  std::map<uint64_t, int> attempts_;
};

/// Signed reports from the registered devices, in turn, each device with at
/// most one report in flight so its sequence numbers arrive in order.
class ReportWorkload final : public Workload {
 public:
  ReportWorkload(std::vector<Device>& devices, const std::vector<Target>& targets,
                 const LoadOptions& o, const ReportRun& run)
      : devices_(devices), targets_(targets), options_(o), run_(run) {
    for (size_t i = 0; i < devices.size(); ++i)
      if (devices[i].registered) order_.push_back(i);
    start_ns_ = monotonic_ns();
    window_start_ns_ = start_ns_ + static_cast<int64_t>(run.warmup_seconds * kNsPerSecond);
    if (run.reports == 0)
      window_end_ns_ = window_start_ns_ + static_cast<int64_t>(run.seconds * kNsPerSecond);
    sample(0);
  }

  std::optional<Request> next(size_t target, int64_t now, int64_t& wake) override {
    tick(now);
    if (finished(now)) return std::nullopt;
    int64_t origin = 0;
    if (run_.rate > 0) {
      // Open loop: report k is due at start + k / rate, and its latency counts
      // from then, so a slow answer delays nothing the clock does not see.
      origin =
          start_ns_ + static_cast<int64_t>(static_cast<double>(sent_) * kNsPerSecond / run_.rate);
      if (origin > now) {
        wake = origin;
        return std::nullopt;
      }
    }
    for (size_t tries = 0; tries < order_.size(); ++tries) {
      const size_t i = order_[cursor_];
      cursor_ = (cursor_ + 1) % order_.size();
      if (!devices_[i].in_flight) return report(i, target, origin);
    }
    return std::nullopt;  // every device has one in flight: wait for an answer
  }

  void answered(const Request& r, int status, std::string_view, int64_t now,
                int64_t latency_ns) override {
    devices_[r.tag].in_flight = false;
    tick(now);
    if (status == 200) {
      ++taken_;
      if (options_.sample_every > 0 && taken_ % options_.sample_every == 0) sample(now);
    }
    if (!measuring_ || ended_) return;
    if (status != 200) {
      ++errors[status_name(status)];
      return;
    }
    ++counted_;
    latency.record(static_cast<uint64_t>(latency_ns / 1000));
    if (options_.timeline) {
      // [second of the phase, reports taken, of them over 100 ms, the slowest in ms]
      const auto second = static_cast<size_t>((now - window_start_ns_) / 1000000000);
      if (timeline_.size() <= second) timeline_.resize(second + 1, {0, 0, 0});
      const double ms = static_cast<double>(latency_ns) / 1e6;
      timeline_[second][0] += 1;
      if (ms > 100) timeline_[second][1] += 1;
      timeline_[second][2] = std::max(timeline_[second][2], ms);
    }
    if (run_.reports > 0 && counted_ >= run_.reports) end(now);
  }

  bool finished(int64_t now) override {
    tick(now);
    return ended_;
  }

  json result() const {
    const double seconds =
        static_cast<double>(end_usage_.wall_ns - start_usage_.wall_ns) / kNsPerSecond;
    json j = {
        {"run", "reports"},
        {"mode", run_.rate > 0 ? "rate" : "max"},
        {"urls", json::array()},
        {"devices", order_.size()},
        {"connections", options_.connections},
        {"warmupSeconds", run_.warmup_seconds},
        {"seconds", seconds},
        {"reports", counted_},
        {"reportsPerSecond", seconds > 0 ? static_cast<double>(counted_) / seconds : 0.0},
        {"errors", errors},
        {"latencyMs", latency_json(latency)},
        {"bodyBytes", sent_ ? static_cast<double>(body_bytes_) / static_cast<double>(sent_) : 0.0},
        {"signMicros",
         sent_ ? static_cast<double>(sign_ns_) / static_cast<double>(sent_) / 1000.0 : 0.0},
        {"cpuCores", usage_json(start_usage_, end_usage_)},
        {"memoryStart", memory_start_},
        {"memoryEnd", memory_end_},
        {"memorySamples", samples_}};
    if (run_.rate > 0) j["targetRate"] = run_.rate;
    if (options_.timeline) {
      json t = json::array();
      for (size_t i = 0; i < timeline_.size(); ++i)
        t.push_back({i, timeline_[i][0], timeline_[i][1], timeline_[i][2]});
      j["timeline"] = t;
    }
    for (const Target& t : targets_) j["urls"].push_back(t.url());
    return j;
  }

  LatencyHistogram latency;
  std::map<std::string, uint64_t> errors;

 private:
  // The measured window opens after the warm-up and closes after its time.
  void tick(int64_t now) {
    if (!measuring_ && now >= window_start_ns_) {
      measuring_ = true;
      start_usage_ = usage_now(options_);
      memory_start_ = memory_json(options_);
    }
    if (measuring_ && !ended_ && window_end_ns_ > 0 && now >= window_end_ns_) end(now);
  }
  void end(int64_t) {
    ended_ = true;
    end_usage_ = usage_now(options_);
    memory_end_ = memory_json(options_);
    if (samples_.empty() || samples_.back()["reports"] != taken_) sample(monotonic_ns());
  }
  void sample(int64_t now) {
    if (options_.service_pids.empty()) return;
    json s = memory_json(options_);
    s["reports"] = taken_;
    s["seconds"] = now > 0 ? static_cast<double>(now - start_ns_) / kNsPerSecond : 0.0;
    samples_.push_back(std::move(s));
  }

  Request report(size_t i, size_t target, int64_t origin) {
    Device& d = devices_[i];
    d.in_flight = true;
    const int64_t seq = d.next_seq++;
    d.uptime += 17;
    const std::string body = d.body_head + std::to_string(d.uptime) + d.body_tail;
    const UnixSeconds time = now_utc();
    const int64_t t0 = monotonic_ns();
    const std::string message =
        device::fleet_request_message("POST", d.path, d.id, seq, time, body);
    auto signature = d.key.sign(message);
    sign_ns_ += monotonic_ns() - t0;
    Request r;
    r.tag = i;
    r.origin_ns = origin;
    r.bytes = http_head("POST", d.path, targets_[target], body.size());
    r.bytes += std::string(device::kFleetDeviceHeader) + ": " + d.id + "\r\n";
    r.bytes += std::string(device::kFleetSeqHeader) + ": " + std::to_string(seq) + "\r\n";
    r.bytes += std::string(device::kFleetTimeHeader) + ": " + std::to_string(time) + "\r\n";
    r.bytes += std::string(device::kFleetSignatureHeader) + ": " +
               (signature ? signing::base64_encode(*signature) : std::string("unsigned")) + "\r\n";
    r.bytes += "\r\n" + body;
    ++sent_;
    body_bytes_ += body.size();
    return r;
  }

  std::vector<Device>& devices_;
  const std::vector<Target>& targets_;
  const LoadOptions& options_;
  ReportRun run_;
  std::vector<size_t> order_;
  size_t cursor_ = 0;
  int64_t start_ns_ = 0, window_start_ns_ = 0, window_end_ns_ = 0;
  bool measuring_ = false, ended_ = false;
  uint64_t sent_ = 0, taken_ = 0, counted_ = 0, body_bytes_ = 0;
  int64_t sign_ns_ = 0;
  Usage start_usage_, end_usage_;
  json memory_start_, memory_end_, samples_ = json::array();
  std::vector<std::array<double, 3>> timeline_;  // per second: taken, over 100 ms, max ms
};

/// One request, answered once.
class OneRequest final : public Workload {
 public:
  explicit OneRequest(std::string bytes) : bytes_(std::move(bytes)) {}
  std::optional<Request> next(size_t, int64_t, int64_t&) override {
    if (sent_) return std::nullopt;
    sent_ = true;
    Request r;
    r.bytes = bytes_;
    return r;
  }
  void answered(const Request&, int s, std::string_view b, int64_t, int64_t) override {
    status = s;
    body = std::string(b);
  }
  bool finished(int64_t) override { return sent_; }
  int status = 0;
  std::string body;

 private:
  std::string bytes_;
  bool sent_ = false;
};

Result<std::string> make_token(const std::vector<Target>& targets,
                               const std::string& operator_token) {
  const std::string body = R"({"autoApprove":true,"lifetimeSeconds":86400})";
  OneRequest w(http_head("POST", "/api/v1/tokens", targets[0], body.size()) +
               "Authorization: Bearer " + operator_token + "\r\n\r\n" + body);
  EF_TRY(drive({targets[0]}, 1, w));
  json answer = json::parse(w.body, nullptr, false);
  if (w.status != 201 || !answer.is_object() || !answer["token"].is_string())
    return Error(Errc::refused, "POST /api/v1/tokens on " + targets[0].url() + " answered " +
                                    std::to_string(w.status) + ": " + w.body.substr(0, 300));
  return answer["token"].get<std::string>();
}

Result<std::vector<Device>> make_devices(const LoadOptions& o) {
  std::vector<Device> devices;
  devices.reserve(o.devices);
  // Sequence numbers start at the clock in ms, as the agent's do, so a
  // later run against the same database still rises.
  const int64_t first_seq = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  for (unsigned i = 0; i < o.devices; ++i) {
    EF_ASSIGN(auto key, signing::SigningKey::generate(signing::Algorithm::ed25519));
    char id[64];
    std::snprintf(id, sizeof id, "%s-%05u", o.id_prefix.c_str(), i);
    Device d{id, std::move(key), "", "", "", first_seq, 3600 + 97 * static_cast<int64_t>(i % 1000)};
    d.path = std::string("/api/v1/devices/") + id + "/reports";
    const std::string whole = status_report(i, kUptimeMarker);
    const size_t at = whole.find(std::to_string(kUptimeMarker));
    d.body_head = whole.substr(0, at);
    d.body_tail = whole.substr(at + std::to_string(kUptimeMarker).size());
    devices.push_back(std::move(d));
  }
  return devices;
}

}  // namespace

std::string status_report(unsigned index, int64_t uptime) {
  // Most of the fleet runs the channel's release; some wait for their wave,
  // a few failed to install it: the service places each differently.
  const unsigned kind = index % 10;
  const std::string release = "1.4.2", previous = "1.4.1";
  const bool updated = kind < 7, failed = kind == 9;
  const std::string running = updated ? release : previous;
  const std::string booted = index % 2 ? "B" : "A", other = booted == "A" ? "B" : "A";
  auto slot = [&](const std::string& version) {
    return json{{"state", "good"},    {"product", "edge-node"},
                {"version", version}, {"imageSha256", hex_of(version)},
                {"bootable", true},   {"triesLeft", 0},
                {"grubOk", true}};
  };
  const std::string bundle = "https://updates.example.com/edge-node/edge-node-";
  json op = {{"kind", "upgrade"},
             {"phase", failed ? "failed" : "done"},
             {"slot", failed ? other : booted},
             {"version", failed ? release : running},
             {"bundle", bundle + release + ".efb"},
             {"error", failed ? "slot " + other + ": chunk 17 of " + bundle + release +
                                    ".efb: sha256 mismatch (expected " + hex_of("chunk") + ")"
                              : ""}};
  json updates = {{"channelUrl", "https://updates.example.com/channels/stable.json"},
                  {"channel", "stable"},
                  {"metadataVersion", 42},
                  {"release", release},
                  {"wave", "wave-" + std::to_string(index % 4)},
                  {"action", updated  ? "nothing"
                             : failed ? "failed"
                                      : "wait"},
                  {"reason", updated  ? "up-to-date"
                             : failed ? "install-failed"
                                      : "wave"},
                  {"why", updated  ? "running the channel's release " + release
                          : failed ? "the last install of " + release + " failed"
                                   : "wave-" + std::to_string(index % 4) + " opens later"},
                  {"until", nullptr},
                  {"polled", format_utc(1796000000 + index)},
                  {"error", nullptr},
                  {"failedReleases", json::array()}};
  json j = {{"booted", booted},
            {"uptimeSeconds", uptime},
            {"bootOrder", booted + " " + other},
            {"slots", {{booted, slot(running)}, {other, slot(updated ? previous : release)}}},
            {"floor", "1.0.0"},
            {"lastOperation", op},
            {"health", {{"slot", booted}, {"result", "passed"}, {"error", nullptr}}},
            {"updates", updates},
            {"tags",
             {{"site", "store-" + std::to_string(index / 8)},
              {"region", index % 3 ? "eu-west" : "us-east"},
              {"rack", "r" + std::to_string(index % 5)}}}};
  return j.dump();
}

Result<void> run_load(const LoadOptions& o, const std::function<void(const json&)>& emit,
                      std::ostream& log) {
  std::vector<Target> targets;
  for (const auto& url : o.urls) {
    EF_ASSIGN(Target t, parse_target(url));
    targets.push_back(t);
  }
  if (targets.empty()) return Error(Errc::invalid_argument, "give at least one --url");
  std::string token = o.registration_token;
  if (token.empty()) {
    if (o.operator_token.empty())
      return Error(Errc::invalid_argument,
                   "give an operator token (to make a registration token) or a registration token");
    EF_ASSIGN(token, make_token(targets, o.operator_token));
  }

  log << "fleet-load: making " << o.devices << " device keys" << std::endl;
  const int64_t keys_start = monotonic_ns();
  EF_ASSIGN(auto devices, make_devices(o));
  const double keygen = static_cast<double>(monotonic_ns() - keys_start) / kNsPerSecond;

  log << "fleet-load: registering " << devices.size() << " devices" << std::endl;
  RegisterWorkload reg(devices, targets, token);
  const Usage before = usage_now(o);
  EF_ASSIGN(auto reg_stats, drive(targets, o.connections, reg));
  const Usage after = usage_now(o);
  const double seconds = static_cast<double>(after.wall_ns - before.wall_ns) / kNsPerSecond;
  const auto registered = static_cast<uint64_t>(
      std::count_if(devices.begin(), devices.end(), [](const Device& d) { return d.registered; }));
  json urls = json::array();
  for (const Target& t : targets) urls.push_back(t.url());
  emit({{"run", "register"},
        {"urls", urls},
        {"devices", devices.size()},
        {"registered", registered},
        {"connections", o.connections},
        {"keygenSeconds", keygen},
        {"seconds", seconds},
        {"perSecond", seconds > 0 ? static_cast<double>(registered) / seconds : 0.0},
        {"errors", reg.errors},
        {"latencyMs", latency_json(reg.latency)},
        {"cpuCores", usage_json(before, after)},
        {"memoryEnd", memory_json(o)},
        {"connects", reg_stats.connects}});
  if (registered == 0) return Error(Errc::refused, "not one device could register");

  for (const ReportRun& run : o.runs) {
    log << "fleet-load: reports, "
        << (run.rate > 0 ? std::to_string(static_cast<int64_t>(run.rate)) + "/s"
                         : std::string("as fast as answered"))
        << ", "
        << (run.reports > 0 ? std::to_string(run.reports) + " reports"
                            : std::to_string(run.seconds) + " s")
        << " after " << run.warmup_seconds << " s of warm-up" << std::endl;
    ReportWorkload w(devices, targets, o, run);
    EF_ASSIGN(auto stats, drive(targets, o.connections, w));
    json j = w.result();
    j["connects"] = stats.connects;
    emit(j);
  }
  return Ok{};
}

}  // namespace ef::fleet::load
