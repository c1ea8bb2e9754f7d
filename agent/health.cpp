#include "agent/health.hpp"

#include <chrono>
#include <thread>

#include "util/subprocess.hpp"

namespace ef::agent {
namespace {

using Clock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<std::string> unit_state(const std::string& unit) {
  ProcessOptions po;
  po.capture_stdout = true;
  po.apt_package = "systemd";
  EF_ASSIGN(ProcessResult r, run_process({"systemctl", "is-active", unit}, po));
  // is-active exits non-zero for anything but "active"; the word is what counts.
  return trim(r.stdout_data);
}

// Waits until every unit is active. A unit that reaches "failed" fails at
// once: waiting out the budget would only delay the rollback.
Result<void> wait_for_units(const HealthConfig& h, const HealthLog& log) {
  const auto deadline = Clock::now() + std::chrono::seconds(h.timeout_seconds);
  for (const std::string& unit : h.units) {
    std::string state;
    for (;;) {
      EF_ASSIGN(state, unit_state(unit));
      if (state == "active") break;
      if (state == "failed") {
        return Error(Errc::refused, "health check: unit " + unit + " failed");
      }
      if (Clock::now() >= deadline) {
        return Error(Errc::refused, "health check: unit " + unit + " not active after " +
                                        std::to_string(h.timeout_seconds) + " s (state " + state +
                                        ")");
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    log("health check: unit " + unit + " is active");
  }
  return {};
}

Result<void> run_command(const HealthCommand& c, const HealthLog& log) {
  // coreutils timeout: TERM at the limit, KILL 5 s later; exit 124 = timed out.
  std::vector<std::string> argv = {
      "timeout", "--kill-after=5", std::to_string(c.timeout_seconds), "/bin/sh", "-c", c.run};
  ProcessOptions po;
  po.apt_package = "coreutils";
  EF_ASSIGN(ProcessResult r, run_process(argv, po));
  if (r.success()) {
    log("health check: `" + c.run + "` passed");
    return {};
  }
  std::string why = r.signal == 0 && (r.exit_code == 124 || r.exit_code == 137)
                        ? "timed out after " + std::to_string(c.timeout_seconds) + " s"
                        : r.describe();
  std::string tail = trim(r.stderr_tail);
  if (auto nl = tail.rfind('\n'); nl != std::string::npos) tail = tail.substr(nl + 1);
  return Error(Errc::refused,
               "health check: `" + c.run + "` " + why + (tail.empty() ? "" : ": " + tail));
}

}  // namespace

Result<void> run_health_checks(const HealthConfig& health, const HealthLog& log) {
  EF_TRY(wait_for_units(health, log));
  for (const HealthCommand& c : health.commands) EF_TRY(run_command(c, log));
  return {};
}

}  // namespace ef::agent
