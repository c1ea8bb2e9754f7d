// The `edgeforge-agent` command line: parses arguments and hands off to the
// agent library. Errors are caught here, once, and printed as one line.
#pragma once

namespace ef::agent {

/// Runs `edgeforge-agent` with the given arguments; returns the exit status
/// (0 success, 1 failure, 2 usage error).
int run_agent(int argc, char** argv);

}  // namespace ef::agent
