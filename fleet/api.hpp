// The fleet service's HTTP API (/api/v1/, docs/fleet-api.md) as a function
// from request to response, apart from any server library, so every rule is
// tested without sockets: who may call what (a device signs with its own key
// and reports only for itself; operators bring a bearer token), what a body
// must be, and which status each failure gets. Paths outside /api/ are the
// operators' web dashboard (fleet/dashboard.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fleet/key_cache.hpp"
#include "fleet/registry.hpp"
#include "fleet/rollout_control.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet {

struct ApiRequest {
  std::string method;                          // GET, POST, ...
  std::string path;                            // without the query
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  UnixSeconds now = 0;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

struct ApiConfig {
  /// Each operator's name, the sha256 (hex) of its token ("" for none) and
  /// a crypt(3) hash of its dashboard password ("" for none). The API takes
  /// the token only ("Authorization: Bearer TOKEN"); the dashboard's log-in
  /// takes either.
  struct Operator {
    std::string name;
    std::string token_sha256;
    std::string password_hash{};  // defaulted: {name, token_sha256} stays complete
  };
  std::vector<Operator> operators;
  /// The largest request body taken (a longer one is 413).
  size_t max_body = 64 * 1024;
  /// A ready device with no report for this long counts as silent.
  uint64_t silent_after_seconds = 24 * 3600;
  /// Dashboard sessions (fleet/session.hpp): the secret their key is derived
  /// from ("" derives it from the operators' entries), how long a log-in
  /// lasts, and whether the cookie is marked Secure (served over HTTPS).
  std::string session_secret;
  uint64_t session_seconds = 12 * 3600;
  bool secure_cookies = false;
};

class Dashboard;

/// Header `name` (lower-case) of `r`, "" when absent.
std::string header(const ApiRequest& r, const std::string& name);
/// The non-empty segments of a URL path: "/api/v1/x" -> {"api", "v1", "x"}.
std::vector<std::string> split_path(const std::string& path);

class Api {
 public:
  /// `rollouts` may be null: a service that watches no channel.
  Api(Registry& registry, ApiConfig config, RolloutControl* rollouts = nullptr);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  ApiResponse handle(const ApiRequest& request);

  const ApiConfig& config() const { return config_; }

 private:
  ApiResponse register_device(const ApiRequest& r);
  ApiResponse report(const ApiRequest& r, const std::string& id);
  ApiResponse operator_call(const ApiRequest& r, const std::vector<std::string>& parts);
  bool is_operator(const ApiRequest& r) const { return !operator_name(r).empty(); }
  /// The name of the operator whose token `r` carries, "" for none.
  std::string operator_name(const ApiRequest& r) const;

  Registry& registry_;
  ApiConfig config_;
  RolloutControl* rollouts_;
  std::unique_ptr<Dashboard> dashboard_;
  KeyCache keys_;  // devices' parsed keys, by ID and registered PEM
};

}  // namespace ef::fleet
