// Runs an outside tool (an oracle) through the shell and captures stdout.
#pragma once

#include <string>

namespace ef::test {

struct CommandOutput {
  int status = -1;  // exit status, -1 when the shell could not run it
  std::string out;  // stdout
};

/// Runs `command` with /bin/sh and returns its exit status and stdout.
CommandOutput run_command(const std::string& command);

/// True when `tool` is on PATH.
bool have_tool(const std::string& tool);

}  // namespace ef::test
