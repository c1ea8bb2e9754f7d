// edgeforge-agent report: queue a status report and send every queued one to
// the fleet service (edgeforge-report.timer runs it as the heartbeat).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/report.hpp"

namespace ef::agent {
namespace {

struct ReportArgs {
  DevicePaths paths;
  ReportOptions options;
  std::string serial;
  std::string machine_id;
  bool queue_only = false;
  bool json = false;
};

int run_report(ReportArgs& a) {
  a.options.send = !a.queue_only;
  if (!a.serial.empty()) a.options.id_sources.serial = a.serial;
  if (!a.machine_id.empty()) a.options.id_sources.machine_id = a.machine_id;
  auto r = report_status(a.paths, a.options);
  if (!r) return fail(r.error(), a.json);
  if (!*r) {
    std::string why = a.paths.registration.string() +
                      " does not exist or names no endpoint: this device reports to no fleet "
                      "service (set registration: in the site file)";
    if (a.json)
      std::cout << nlohmann::json{{"reported", false}, {"why", why}}.dump(2) << "\n";
    else
      log_line(why);
    return 0;
  }
  const FlushResult& f = **r;
  if (a.json) {
    std::cout << nlohmann::json{{"reported", f.sent > 0},
                                {"state", f.state},
                                {"sent", f.sent},
                                {"queued", f.queued},
                                {"error", f.error.empty() ? nlohmann::json(nullptr)
                                                          : nlohmann::json(f.error)}}
                     .dump(2)
              << "\n";
  } else {
    log_line("registration: " + (f.state.empty() ? std::string("not registered") : f.state) +
             "; sent " + std::to_string(f.sent) + ", waiting " + std::to_string(f.queued) +
             (f.error.empty() ? "" : " (" + f.error + ")"));
  }
  // Not reaching the service is the normal life of an offline site, not a
  // failure of this command: the reports wait in the queue.
  return 0;
}

}  // namespace

cmdline::Command add_report_command(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  a->options.reason = "heartbeat";
  auto* cmd = app.add_subcommand(
      "report", "Queue a status report and send the queued reports to the fleet service");
  cmd->add_option("--reason", a->options.reason, "Why this report (default: heartbeat)");
  cmd->add_option("--device-id", a->options.device_id,
                  "This device's ID (default: the registration's deviceId source: "
                  "/etc/machine-id or the DMI serial number)");
  cmd->add_option("--machine-id", a->machine_id, "Machine ID file (default: /etc/machine-id)");
  cmd->add_option("--serial", a->serial,
                  "Serial number file (default: /sys/class/dmi/id/product_serial)");
  cmd->add_flag("--queue-only", a->queue_only, "Queue the report; send nothing now");
  cmd->add_flag("--json", a->json, "Print JSON");
  add_device_options(cmd, a->paths);
  cmd->footer(
      "On first use the device makes its key (persist/agent/fleet/device.key, 0600) and registers "
      "with the endpoint and token of the site's registration:. Reports wait on the device while "
      "the service is away (at most 200 or 512 KiB; the oldest go first) and are sent oldest "
      "first. Exit status 0 whether or not the service answered. docs/fleet-api.md");
  return {cmd, [a] { return run_report(*a); }};
}

}  // namespace ef::agent
