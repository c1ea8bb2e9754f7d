// The subcommands of edgeforge-fleet, one file each.
#pragma once

#include "util/command_line.hpp"

namespace ef::fleet {

cmdline::Command add_serve_command(CLI::App& app);

}  // namespace ef::fleet
