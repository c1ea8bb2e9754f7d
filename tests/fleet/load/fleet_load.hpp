// The fleet service's load generator (scripts/bench-fleet.sh, docs/benchmarks.md):
// simulated devices that register with `edgeforge-fleet serve` and then send
// signed status reports as the agent does (device/fleet_request.hpp), at full
// speed over a fixed number of connections or at a fixed rate. Each phase
// ends in one JSON object: reports per second, latency percentiles, errors
// by status, and the CPU and memory of the processes it was told to watch.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace ef::fleet::load {

/// One phase of reports.
struct ReportRun {
  double rate = 0;            // reports per second, open loop; 0: as fast as answers come
  double seconds = 10;        // how long it is measured (after the warm-up) ...
  uint64_t reports = 0;       // ... or, when above 0, until this many were taken
  double warmup_seconds = 0;  // sent first, not counted
};

struct LoadOptions {
  std::vector<std::string> urls;   // http://IP:PORT of each service instance
  std::string operator_token;      // makes an auto-approve registration token, or
  std::string registration_token;  // registers with this one
  unsigned devices = 1000;
  unsigned connections = 32;  // spread round-robin over `urls`
  std::string id_prefix = "bench";
  std::vector<ReportRun> runs;
  std::vector<pid_t> service_pids;  // whose CPU and memory each phase reports
  pid_t database_pid = 0;           // a server whose process tree's CPU is reported
  uint64_t sample_every = 0;        // the services' memory after every N reports taken
  bool timeline = false;            // each phase also says, second by second, what was taken
};

/// Registers `o.devices` devices, then runs each of `o.runs` in turn. Each
/// phase's result goes to `emit` as it ends; progress lines go to `log`.
/// Errors: a service that cannot be reached, a registration token that
/// cannot be made, or no device registered.
Result<void> run_load(const LoadOptions& o, const std::function<void(const nlohmann::json&)>& emit,
                      std::ostream& log);

/// A device's status report as the agent sends it (agent/status_report.cpp),
/// about 1.2 KB, of device `index` of the fleet, running the release its place
/// in the fleet gives it, `uptime` seconds after boot.
std::string status_report(unsigned index, int64_t uptime);

}  // namespace ef::fleet::load
