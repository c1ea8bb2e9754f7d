// What the edgeforge-agent commands share: the error line, the log lines,
// the device options and the reboot.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/device.hpp"
#include "agent/slot_install.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"

namespace CLI {
class App;
}

namespace ef::agent {

/// Prints `e` as "edgeforge-agent: error: ..." (and the JSON error document
/// on stdout when `json`); returns exit status 1.
int fail(const Error& e, bool json = false);

/// A log line on stdout ("edgeforge-agent: LINE"), flushed: the serial
/// console and the journal show it at once.
void log_line(const std::string& line);

/// The same on stderr, for commands whose stdout carries JSON.
void log_to_stderr(const std::string& line);

/// Adds the options every device command shares to `cmd`; the defaults in
/// `paths` are a real device's.
void add_device_options(CLI::App* cmd, DevicePaths& paths);

/// Reboots through systemd, so services stop cleanly and file systems sync;
/// returns the exit status.
int reboot_now();

/// A delta install's figures, as `upgrade --json` and `write-slot --json`
/// print them under "delta".
nlohmann::json delta_json(const DeltaStats& d);

/// The one line a delta install logs: the plan and where the chunks came from.
std::string delta_summary(const DeltaStats& d);

}  // namespace ef::agent
