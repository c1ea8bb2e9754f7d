#include "agent/reboot.hpp"

#include <unistd.h>

#include <algorithm>

#include "util/subprocess.hpp"

namespace ef::agent {

Result<void> reboot_device(const RebootOptions& o, const Log& log) {
  namespace fs = std::filesystem;
  std::vector<fs::path> hooks;
  std::error_code ec;
  if (fs::is_directory(o.hooks, ec)) {
    for (const auto& e : fs::directory_iterator(o.hooks, ec))
      if (e.is_regular_file() && ::access(e.path().c_str(), X_OK) == 0) hooks.push_back(e.path());
    std::sort(hooks.begin(), hooks.end());
  }
  ProcessOptions po;
  po.env = {{"EDGEFORGE_REBOOT_REASON", o.reason}};
  po.tee_stderr = true;
  // What a hook prints goes to the log, never into a caller's JSON on stdout.
  po.capture_stdout = true;
  auto log_output = [&](const std::string& text) {
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) log("  " + text.substr(start, end - start));
      start = end + 1;
    }
  };
  for (const fs::path& hook : hooks) {
    log("pre-reboot hook " + hook.string());
    EF_ASSIGN(ProcessResult r, run_process({hook.string()}, po));
    log_output(r.stdout_data);
    if (!r.success()) {
      return Error(Errc::refused, "pre-reboot hook " + hook.string() + " " + r.describe() +
                                      "; the reboot is postponed to the next try");
    }
  }
  log("rebooting" + (o.reason.empty() ? "" : " (" + o.reason + ")"));
  EF_ASSIGN(ProcessResult r, run_process(o.command, po));
  log_output(r.stdout_data);
  if (!r.success()) return process_failure(o.command, r);
  return Ok{};
}

}  // namespace ef::agent
