// fleet-load: the fleet service's load generator (tests/fleet/load/fleet_load.hpp).
// One JSON line per phase on stdout, progress on stderr.

// GCC 12 reports a false "potential null pointer dereference" inside
// CLI11's std::vector use (CLI::detail::split) when inlined into main; the
// warning is off for this file only, as in builder/node/template.cpp.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "tests/fleet/load/fleet_load.hpp"

int main(int argc, char** argv) {
  using namespace ef::fleet::load;
  LoadOptions o;
  std::vector<double> rates;
  double seconds = 30, warmup = 0;
  uint64_t reports = 0;
  bool quiet = false;
  CLI::App app{
      "Registers simulated devices with edgeforge-fleet serve, then sends signed status reports "
      "and prints one JSON line per phase (scripts/bench-fleet.sh)"};
  app.add_option("--url", o.urls,
                 "Service http://IP:PORT; give it again for more instances "
                 "(connections go round-robin: the load balancer)")
      ->required();
  app.add_option("--operator-token", o.operator_token,
                 "Operator token that makes the registration token (default: "
                 "$FLEET_LOAD_OPERATOR_TOKEN)");
  app.add_option("--registration-token", o.registration_token,
                 "Register with this token instead (it must auto-approve)");
  app.add_option("--devices", o.devices, "Simulated devices (default 1000)")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--connections", o.connections, "Keep-alive connections (default 32)")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--prefix", o.id_prefix, "Device IDs are PREFIX-00000, ... (default bench)");
  app.add_option("--rate", rates,
                 "Reports per second of each report phase; 0: as fast as answers come (closed "
                 "loop). Give it again for more phases (default: one phase at 0)");
  app.add_option("--duration", seconds, "Seconds each report phase is measured (default 30)");
  app.add_option("--reports", reports, "Or measure each phase until this many reports were taken");
  app.add_option("--warmup", warmup, "Seconds of reports before each measured phase (default 0)");
  app.add_option("--service-pid", o.service_pids,
                 "A service process whose CPU and memory to report");
  app.add_option("--database-pid", o.database_pid,
                 "A database server whose process tree's CPU to report");
  app.add_option("--sample-every", o.sample_every,
                 "Record the services' memory after every N reports taken");
  app.add_flag("--timeline", o.timeline,
               "Each phase also lists, per second: reports taken, how many over 100 ms, the "
               "slowest (ms)");
  app.add_flag("-q,--quiet", quiet, "No progress on stderr");
  CLI11_PARSE(app, argc, argv);

  if (o.operator_token.empty())
    if (const char* env = std::getenv("FLEET_LOAD_OPERATOR_TOKEN")) o.operator_token = env;
  if (rates.empty()) rates.push_back(0);
  for (double rate : rates) o.runs.push_back({rate, seconds, reports, warmup});

  std::ostream null(nullptr);
  auto done = run_load(
      o, [](const nlohmann::json& j) { std::cout << j.dump() << std::endl; },
      quiet ? null : std::cerr);
  if (!done) {
    std::cerr << "fleet-load: " << done.error().message() << std::endl;
    return 1;
  }
  return 0;
}
