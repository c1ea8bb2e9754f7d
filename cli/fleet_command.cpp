// edgeforge fleet: the operator's client of the fleet service's API
// (docs/fleet-api.md): devices, approval, pre-provisioning, the fleet's
// status, pausing and resuming a channel's rollout, registration tokens.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "util/atomic_file.hpp"
#include "util/duration.hpp"
#include "util/http_client.hpp"

namespace ef::cli {
namespace {

using nlohmann::json;

constexpr const char* kTokenEnv = "EDGEFORGE_FLEET_TOKEN";
constexpr const char* kServerEnv = "EDGEFORGE_FLEET";

struct FleetArgs {
  std::string server;      // default: $EDGEFORGE_FLEET, else http://127.0.0.1:8480
  std::string token_file;  // default: $EDGEFORGE_FLEET_TOKEN
  std::string ca_file;
  std::vector<std::string> ids;
  std::string import_file, channel, reason, lifetime = "7d";
  bool single_use = false, auto_approve = false;
  OutputStyle style;
};

Result<std::string> operator_token(const FleetArgs& a) {
  if (!a.token_file.empty()) {
    EF_ASSIGN(std::string text, read_file(a.token_file));
    std::string token = text.substr(0, text.find('\n'));
    if (token.empty()) return Error(Errc::invalid_argument, a.token_file + ": empty token file");
    return token;
  }
  if (const char* t = std::getenv(kTokenEnv); t && *t) return std::string(t);
  return Error(Errc::invalid_argument,
               std::string("no operator token: give --token-file FILE or set ") + kTokenEnv);
}

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "-";
  const json& v = j.at(key);
  if (!v.is_string()) return "-";
  std::string out = v.get<std::string>();
  return out.empty() ? "-" : out;
}

/// One API call; a non-2xx answer is an error with the service's message.
Result<json> call(const FleetArgs& a, const std::string& method, const std::string& path,
                  const json& body = nullptr) {
  EF_ASSIGN(std::string token, operator_token(a));
  std::string server = a.server;
  if (server.empty()) {
    const char* s = std::getenv(kServerEnv);
    server = s && *s ? s : "http://127.0.0.1:8480";
  }
  while (!server.empty() && server.back() == '/') server.pop_back();
  HttpStreamOptions http;
  http.ca_file = a.ca_file;
  http.retries = 2;
  HttpClient client(http);
  HttpRequest r;
  r.method = method;
  r.url = server + path;
  r.headers = {"Authorization: Bearer " + token};
  if (!body.is_null()) {
    r.headers.push_back("Content-Type: application/json");
    r.body = body.dump();
  }
  r.max_bytes = 64 << 20;
  EF_ASSIGN(HttpResponse resp, client.send(r));
  json j = json::parse(resp.body, nullptr, false);
  if (resp.status < 200 || resp.status > 299) {
    std::string why = "HTTP " + std::to_string(resp.status);
    if (j.is_object() && j.contains("error")) why += ": " + str(j.at("error"), "message");
    Errc code = resp.status == 401 || resp.status == 403 ? Errc::refused
                : resp.status == 404                     ? Errc::not_found
                                                         : Errc::network;
    return Error(code, method + " " + r.url + ": " + why);
  }
  if (j.is_discarded()) return Error(Errc::network, r.url + ": the answer is not JSON");
  return j;
}

void print_devices(const json& j) {
  std::printf("%-36s %-11s %-14s %-10s %-10s %s\n", "DEVICE", "STATE", "PHASE", "RELEASE",
              "RUNNING", "LAST REPORT");
  for (const auto& d : j["devices"])
    std::printf("%-36s %-11s %-14s %-10s %-10s %s\n", str(d, "id").c_str(), str(d, "state").c_str(),
                str(d, "phase").c_str(), str(d, "release").c_str(), str(d, "running").c_str(),
                str(d, "lastReport").c_str());
}

void print_counts(const std::string& label, const json& counts) {
  std::cout << label;
  for (const auto& [phase, n] : counts.items()) std::cout << "  " << phase << " " << n;
  std::cout << "\n";
}

void print_status(const json& j) {
  std::cout << j["devices"] << " devices at " << str(j, "generated") << "; " << j["silent"]
            << " silent\n";
  print_counts("by state:", j["byState"]);
  print_counts("by phase:", j["byPhase"]);
  for (const auto& c : j["channels"]) {
    for (const auto& r : c["releases"]) {
      print_counts("channel " + str(c, "channel") + " release " + str(r, "release") + ":",
                   r["byPhase"]);
      for (const auto& w : r["waves"]) print_counts("  wave " + str(w, "wave") + ":", w["byPhase"]);
    }
  }
  for (const auto& d : j["failingDevices"])
    std::cout << "failing: " << str(d, "id") << " (" << str(d, "phase") << " since "
              << str(d, "since") << "): " << str(d, "error") << "\n";
  for (const auto& d : j["silentDevices"])
    std::cout << "silent: " << str(d, "id") << " (last report " << str(d, "lastReport") << ")\n";
}

int run(const FleetArgs& a, const std::function<Result<json>()>& go,
        const std::function<void(const json&)>& print) {
  auto r = go();
  if (!r) return fail(r.error(), a.style.json);
  if (a.style.json)
    std::cout << r->dump(2) << "\n";
  else if (!a.style.quiet)
    print(*r);
  return 0;
}

Result<std::vector<std::string>> import_ids(const FleetArgs& a) {
  std::vector<std::string> ids = a.ids;
  if (!a.import_file.empty()) {
    std::ifstream in(a.import_file == "-" ? "/dev/stdin" : a.import_file);
    if (!in) return Error(Errc::io, a.import_file + ": cannot read");
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.pop_back();
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
        line.erase(0, 1);
      if (!line.empty()) ids.push_back(line);
    }
  }
  if (ids.empty())
    return Error(Errc::invalid_argument, "no device IDs: give them, or --file FILE (one per line)");
  return ids;
}

void add_common(CLI::App* cmd, FleetArgs& a) {
  cmd->add_option(
      "--server", a.server,
      std::string("The service's URL (default: $") + kServerEnv + ", else http://127.0.0.1:8480)");
  cmd->add_option(
      "--token-file", a.token_file,
      std::string("File whose first line is an operator token (default: $") + kTokenEnv + ")");
  cmd->add_option("--ca-file", a.ca_file, "CA bundle (PEM) to trust for the service's TLS");
  add_output_style(cmd, a.style, "Print the service's JSON answer");
}

}  // namespace

cmdline::Command add_fleet_command(CLI::App& app) {
  auto a = std::make_shared<FleetArgs>();
  auto* cmd = app.add_subcommand(
      "fleet", "Ask the fleet service (edgeforge-fleet): devices, approval, status, pause/resume");
  cmd->require_subcommand(1);
  cmd->footer("docs/fleet-api.md describes the service and its API.");

  std::vector<std::pair<CLI::App*, std::function<int()>>> subs;
  auto* devices = cmd->add_subcommand("devices", "List the devices and where each stands");
  subs.push_back({devices, [a] {
                    return run(
                        *a, [&] { return call(*a, "GET", "/api/v1/devices"); }, print_devices);
                  }});
  auto* approve = cmd->add_subcommand("approve", "Approve devices that registered on site");
  approve->add_option("id", a->ids, "Device IDs")->required();
  subs.push_back({approve, [a] {
                    return run(
                        *a,
                        [&]() -> Result<json> {
                          json done = json::array();
                          for (const auto& id : a->ids) {
                            EF_ASSIGN(json r, call(*a, "POST", "/api/v1/devices/" + id + "/approve",
                                                   json::object()));
                            done.push_back(r);
                          }
                          return json{{"approved", done}};
                        },
                        [](const json& j) {
                          for (const auto& d : j["approved"])
                            std::cout << str(d, "deviceId") << ": ready\n";
                        });
                  }});
  auto* import = cmd->add_subcommand(
      "import", "Pre-provision devices (machine IDs or serial numbers): ready as they register");
  import->add_option("id", a->ids, "Device IDs");
  import->add_option("--file", a->import_file, "A file of device IDs, one per line (- for stdin)");
  subs.push_back({import, [a] {
                    return run(
                        *a,
                        [&]() -> Result<json> {
                          EF_ASSIGN(auto ids, import_ids(*a));
                          return call(*a, "POST", "/api/v1/import", json{{"devices", ids}});
                        },
                        [](const json& j) {
                          std::cout << j["imported"] << " imported, " << j["known"]
                                    << " known already\n";
                        });
                  }});
  auto* status = cmd->add_subcommand(
      "status", "The fleet at a glance: counts by channel, release, wave, tag and phase");
  subs.push_back({status, [a] {
                    return run(
                        *a, [&] { return call(*a, "GET", "/api/v1/status"); }, print_status);
                  }});
  auto* pause = cmd->add_subcommand("pause", "Pause a channel's rollout (a signed rollout state)");
  pause->add_option("channel", a->channel, "Channel name")->required();
  pause->add_option("--reason", a->reason, "Why (recorded in the signed state)");
  subs.push_back({pause, [a] {
                    return run(
                        *a,
                        [&] {
                          json body = json::object();
                          if (!a->reason.empty()) body["reason"] = a->reason;
                          return call(*a, "POST", "/api/v1/channels/" + a->channel + "/pause",
                                      body);
                        },
                        [&](const json&) { std::cout << a->channel << ": paused\n"; });
                  }});
  auto* resume = cmd->add_subcommand(
      "resume", "Resume a channel's rollout; the failures seen so far no longer stop it");
  resume->add_option("channel", a->channel, "Channel name")->required();
  subs.push_back({resume, [a] {
                    return run(
                        *a,
                        [&] {
                          return call(*a, "POST", "/api/v1/channels/" + a->channel + "/resume",
                                      json::object());
                        },
                        [&](const json&) { std::cout << a->channel << ": resumed\n"; });
                  }});
  auto* token = cmd->add_subcommand(
      "token", "Make a registration token for the site files' registration.token");
  token->add_option("--lifetime", a->lifetime, "How long it registers devices (default: 7d)");
  token->add_flag("--single-use", a->single_use, "It registers one device");
  token->add_flag("--auto-approve", a->auto_approve,
                  "Devices registering with it are ready at once");
  subs.push_back({token, [a] {
                    return run(
                        *a,
                        [&]() -> Result<json> {
                          auto d = parse_duration(a->lifetime);
                          if (!d || d->count() <= 0)
                            return Error(Errc::invalid_argument,
                                         "--lifetime " + a->lifetime + ": a duration such as 7d");
                          return call(*a, "POST", "/api/v1/tokens",
                                      json{{"lifetimeSeconds", d->count()},
                                           {"singleUse", a->single_use},
                                           {"autoApprove", a->auto_approve}});
                        },
                        [](const json& j) {
                          std::cout << str(j, "token") << "\n(expires " << str(j, "expires")
                                    << "; shown once)\n";
                        });
                  }});
  for (auto& [sub, fn] : subs) add_common(sub, *a);
  return {cmd, [subs] {
            for (const auto& [sub, fn] : subs)
              if (sub->parsed()) return fn();
            return 1;
          }};
}

}  // namespace ef::cli
