// The shape both edgeforge programs share: subcommands registered from a
// table, one error line and one exit-status table for every failure, command
// line errors included.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace CLI {
class App;
}

namespace ef::cmdline {

/// Exit statuses of `edgeforge` and `edgeforge-agent` (README, "Exit status").
enum ExitStatus : int {
  kExitOk = 0,         ///< the command did what was asked
  kExitFailed = 1,     ///< it ran and failed; the error line says why
  kExitUsage = 2,      ///< the command line could not be parsed; nothing was done
  kExitMarkedBad = 3,  ///< edgeforge-agent boot --no-reboot: the slot on trial was marked bad
};

/// One registered subcommand: `run` is called when the command line named it.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

/// Adds one subcommand (its options, help and run function) to `parent`.
using CommandFactory = std::function<Command(CLI::App& parent)>;

/// A program: its name (the error prefix), one-line description, version,
/// subcommands in help order, and options every subcommand accepts.
struct Program {
  std::string name;
  std::string description;
  std::string version;
  std::vector<CommandFactory> commands;
  /// The program can exit with kExitMarkedBad (said in its --help).
  bool exits_marked_bad = false;
  /// Adds options that belong to the program, not one command (e.g. -v);
  /// they may also follow the command name. Returns what to do once the
  /// command line is parsed (e.g. set the log level); may be empty.
  std::function<std::function<void()>(CLI::App& app)> global_options;
};

/// Parses `argv` and runs the command it names; returns the exit status.
/// --help and --version print to stdout and return kExitOk. Every command
/// line error, and a missing command, is one line on stderr
/// ("NAME: error: COMMAND: MESSAGE; see 'NAME COMMAND --help'"), plus the JSON
/// error document on stdout when --json was given, and kExitUsage. An
/// exception that escapes a command is reported the same way as kExitFailed.
int run_program(const Program& program, int argc, char** argv);

/// Prints `e` as one line on stderr ("PROGRAM: error: MESSAGE") and, when
/// `json`, as {"ok": false, "error": {"code", "message"}} on stdout. Returns
/// kExitFailed.
int report_failure(std::string_view program, const Error& e, bool json);

/// The exit-status table as help text, for a program's --help footer.
std::string exit_status_help(bool with_marked_bad);

}  // namespace ef::cmdline
