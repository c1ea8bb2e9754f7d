// Running external programs (mmdebstrap, ...) without a shell, so no
// argument is ever re-parsed or globbed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace ef {

struct ProcessOptions {
  /// Added to the inherited environment; replaces a variable of the same name.
  std::vector<std::pair<std::string, std::string>> env;
  /// Removed from the inherited environment (before `env` is applied).
  std::vector<std::string> unset_env;
  /// True: stdout is collected into ProcessResult::stdout_data. False: it goes
  /// to this process's stdout.
  bool capture_stdout = false;
  /// True: the last `stderr_tail_bytes` of stderr are kept for error messages.
  /// False: stderr goes to this process's stderr.
  bool capture_stderr = true;
  /// With capture_stderr: also copy stderr to ours as it arrives, so long
  /// running tools still show their progress.
  bool tee_stderr = false;
  size_t stderr_tail_bytes = 4096;
  /// The child's stdin (for tools that read a script, like sfdisk); empty:
  /// /dev/null. Opened here, before the child starts, so a path that cannot
  /// be opened is reported as such, not as a program that cannot run.
  std::filesystem::path stdin_file;
  /// True: the child shares this process's stdin (an interactive console);
  /// stdin_file is then ignored.
  bool inherit_stdin = false;
  /// Working directory of the child; empty: ours.
  std::filesystem::path cwd;
  /// The Debian package named in the "not found" error; empty: argv[0].
  std::string apt_package;
};

struct ProcessResult {
  int exit_code = 0;  // meaningful when signal == 0
  int signal = 0;     // the signal that killed the child, or 0
  std::string stdout_data;
  std::string stderr_tail;

  bool success() const { return signal == 0 && exit_code == 0; }
  /// "exited with status 3" or "killed by signal 9 (Killed)".
  std::string describe() const;
};

/// Runs `argv` (argv[0] is looked up on PATH unless it contains a '/') with
/// stdin from /dev/null (or options.stdin_file) and waits for it. A child that runs and fails is
/// not an error here: inspect ProcessResult (or use process_failure()). Errors are a missing
/// program (Errc::not_found) or a failure to start or watch it.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

/// Errc::subprocess error for a failed run: "<program> <describe()>: <stderr tail>".
Error process_failure(const std::vector<std::string>& argv, const ProcessResult& result);

/// Returns the executable `name` would run as, searching `path_var` (a
/// colon-separated list; empty entries mean the current directory).
std::optional<std::filesystem::path> find_program(std::string_view name, std::string_view path_var);

/// Renders argv for logs: arguments with spaces or quotes are single-quoted.
std::string format_command(const std::vector<std::string>& argv);

}  // namespace ef
