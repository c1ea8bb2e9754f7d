#include "cli/common.hpp"

#include "util/command_line.hpp"

namespace ef::cli {

int fail(const Error& e, bool json) {
  return cmdline::report_failure("edgeforge", e, json);
}

}  // namespace ef::cli
