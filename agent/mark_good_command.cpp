// edgeforge-agent mark-good: confirm the running slot without health checks.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/operations.hpp"
#include "agent/report.hpp"

namespace ef::agent {
namespace {

struct MarkGoodArgs {
  DevicePaths paths;
};

int run_mark_good(const MarkGoodArgs& a) {
  auto device = Device::open(a.paths, log_line);
  if (!device) return fail(device.error(), false);
  auto r = mark_good(*device, log_line);
  if (!r) return fail(r.error(), false);
  report_change(a.paths, "mark-good", log_line);
  return 0;
}

}  // namespace

cmdline::Command add_mark_good_command(CLI::App& app) {
  auto a = std::make_shared<MarkGoodArgs>();
  auto* cmd = app.add_subcommand("mark-good", "Mark the running slot good without health checks");
  add_device_options(cmd, a->paths);

  return {cmd, [a] { return run_mark_good(*a); }};
}

}  // namespace ef::agent
