// The `install` subcommand of edgeforge-agent, kept apart from cli.cpp so
// the command's options and its unattended mode live in one place.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace ef::agent {

struct InstallCommand {
  CLI::App* command = nullptr;  // true when given on the command line
  std::function<int()> run;     // exit status: 0 done (or nothing asked), 1 failed
};

/// Adds `install` to `app`; call `run` when `*command` was parsed.
InstallCommand add_install_command(CLI::App& app);

}  // namespace ef::agent
