// The operators' web dashboard, served by the fleet service at every path
// outside /api/ (docs/fleet-api.md, "Dashboard"): server-rendered HTML with
// inline CSS, no script and nothing loaded from elsewhere. Like Api, a
// function from request to response, so every rule is tested without a
// server:
//   GET  /login, POST /login      log in with an operator token or password
//   POST /logout
//   GET  /                        the fleet at a glance (fleet/rollup.hpp) and
//                                 the channels with pause and resume buttons
//   GET  /devices, /devices/{id}  every device; one device and its reports
//   POST /channels/{name}/pause, /channels/{name}/resume
// Everything but the log-in needs a valid session cookie (fleet/session.hpp),
// else 303 to /login; a device's signature or an API token opens none of it.
// Every POST made in a session carries the session's CSRF token.
#pragma once

#include "fleet/api.hpp"
#include "fleet/registry.hpp"
#include "fleet/rollout_control.hpp"
#include "fleet/session.hpp"

namespace ef::fleet {

class Dashboard {
 public:
  /// Serves `registry`'s devices to the operators of `config`; `rollouts`
  /// may be null (a service that watches no channel: none listed).
  Dashboard(Registry& registry, ApiConfig config, RolloutControl* rollouts);

  /// Answers `request` (its path is outside /api/) with a page, a redirect
  /// or an error page.
  ApiResponse handle(const ApiRequest& request);

 private:
  /// The name of the session cookie: __Host-ef_session over HTTPS.
  const char* cookie_name() const;
  struct Session {
    std::string name;    // the operator's
    std::string cookie;  // the cookie's value
  };
  std::optional<Session> session(const ApiRequest& r) const;
  ApiResponse log_in(const ApiRequest& r);
  ApiResponse post(const ApiRequest& r, const Session& s, const std::vector<std::string>& parts);
  ApiResponse get(const ApiRequest& r, const Session& s, const std::vector<std::string>& parts);
  ApiResponse fleet_page(const ApiRequest& r, const Session& s);
  ApiResponse device_page(const ApiRequest& r, const Session& s, const std::string& id);
  ApiResponse devices_page(const ApiRequest& r, const Session& s);

  Registry& registry_;
  ApiConfig config_;
  RolloutControl* rollouts_;
  Sessions sessions_;
};

}  // namespace ef::fleet
