// The `edgeforge` command line: parses arguments and hands off to the
// libraries. Errors are caught here, once, and printed as one line.
#pragma once

namespace ef::cli {

/// Runs `edgeforge` with the given arguments; returns the exit status
/// (0 success, 1 failure, 2 usage error).
int run_edgeforge(int argc, char** argv);

}  // namespace ef::cli
