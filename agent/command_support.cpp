#include "agent/command_support.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "util/command_line.hpp"
#include "util/subprocess.hpp"

namespace ef::agent {

int fail(const Error& e, bool json) {
  return cmdline::report_failure("edgeforge-agent", e, json);
}

void log_line(const std::string& line) {
  std::cout << "edgeforge-agent: " << line << std::endl;
}

void log_to_stderr(const std::string& line) {
  std::cerr << "edgeforge-agent: " << line << std::endl;
}

void add_device_options(CLI::App* cmd, DevicePaths& p) {
  cmd->add_option("--config", p.config, "Agent configuration (default: " + p.config.string() + ")");
  cmd->add_option("--esp", p.esp,
                  "Mounted ESP (default: PARTLABEL edgeforge-esp, mounted at " +
                      p.esp_mountpoint.string() + ")");
  cmd->add_option("--slot-a", p.slot_a, "Slot A (default: " + p.slot_a.string() + ")");
  cmd->add_option("--slot-b", p.slot_b, "Slot B (default: " + p.slot_b.string() + ")");
  cmd->add_option("--state", p.state, "Agent journal (default: " + p.state.string() + ")");
  cmd->add_option("--cmdline", p.cmdline,
                  "Kernel command line with edgeforge.slot= (default: /proc/cmdline)");
  cmd->add_option("--lock", p.lock, "Lock file (default: " + p.lock.string() + ")");
  cmd->add_option("--registration", p.registration,
                  "The site's fleet registration; status reports go to its endpoint (default: " +
                      p.registration.string() + ")");
}

int reboot_now() {
  log_line("rebooting");
  std::cout.flush();
  auto r = run_process({"systemctl", "reboot"});
  if (!r || !r->success())
    return fail(Error(Errc::subprocess, "systemctl reboot failed; reboot the device"));
  return 0;
}

nlohmann::json delta_json(const DeltaStats& d) {
  return {{"plan", d.plan},
          {"full", d.full},
          {"chunks", d.chunks},
          {"inSlotChunks", d.in_target_chunks},
          {"seededChunks", d.seeded_chunks},
          {"seededBytes", d.seeded_bytes},
          {"computedChunks", d.computed_chunks},
          {"computedBytes", d.computed_bytes},
          {"fetchedChunks", d.fetched_chunks},
          {"fetchedBytes", d.fetched_bytes},
          {"scannedBytes", d.scanned_bytes},
          {"seedsFromKeptIndex", d.seeds_from_kept_index},
          {"planSeconds", d.plan_seconds}};
}

std::string delta_summary(const DeltaStats& d) {
  return "from the chunk store: " + d.plan + "; " + std::to_string(d.in_target_chunks) +
         " chunks already in the slot, " + std::to_string(d.seeded_chunks) +
         " copied from the booted slot" +
         (d.seeds_from_kept_index ? " (known from its kept chunk index)" : "") + ", " +
         std::to_string(d.fetched_chunks) + " fetched (" + std::to_string(d.fetched_bytes) +
         " bytes)";
}

}  // namespace ef::agent
