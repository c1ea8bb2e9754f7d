#include "tests/support/command.hpp"

#include <sys/wait.h>

#include <cstdio>

namespace ef::test {

CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.out.append(buf, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool have_tool(const std::string& tool) {
  return run_command("command -v " + tool + " >/dev/null 2>&1").status == 0;
}

}  // namespace ef::test
