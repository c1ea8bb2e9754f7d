// Health checks of a slot on trial (the profile's spec.agent.health): the
// systemd units that must become active within a budget, then commands that
// must exit 0 within their own timeouts. Used by `edgeforge-agent boot` to
// decide between mark-good and mark-bad-and-reboot.
#pragma once

#include <functional>
#include <string>

#include "agent/config.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// Called with one line per check as it passes or fails (for the console).
using HealthLog = std::function<void(const std::string&)>;

/// Runs every check; the first failure is an error naming the unit or the
/// command and why (its state, exit status or timeout).
Result<void> run_health_checks(const HealthConfig& health, const HealthLog& log);

}  // namespace ef::agent
