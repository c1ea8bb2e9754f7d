#include "tests/fleet/load/proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace ef::fleet::load {
namespace {

/// The fields of /proc/PID/stat after the command name (field 3 onwards).
std::optional<std::vector<std::string>> stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t paren = line.rfind(')');  // the name may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double ticks_per_second() {
  static const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return hz;
}

}  // namespace

std::optional<double> process_cpu_seconds(pid_t pid) {
  auto f = stat_fields(pid);
  if (!f || f->size() < 13) return std::nullopt;
  // utime and stime are fields 14 and 15: 11 and 12 after the name.
  const double ticks = std::stod((*f)[11]) + std::stod((*f)[12]);
  return ticks / ticks_per_second();
}

std::optional<Memory> process_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  Memory m;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) m.rss_kib = std::stoull(line.substr(6));
    if (line.starts_with("VmHWM:")) m.hwm_kib = std::stoull(line.substr(6));
  }
  return m;
}

std::vector<pid_t> process_tree(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (auto f = stat_fields(pid); f && f->size() > 1)
      children.emplace(static_cast<pid_t>(std::stol((*f)[1])), pid);
  }
  std::vector<pid_t> tree = {root};
  for (size_t i = 0; i < tree.size(); ++i) {
    auto [from, to] = children.equal_range(tree[i]);
    for (auto it = from; it != to; ++it) tree.push_back(it->second);
  }
  return tree;
}

double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;  // "cpu": the sum over all CPUs
  double busy = 0;
  // user nice system idle iowait irq softirq steal: the hypervisor's steal
  // is not this machine's work, idle and iowait are no work.
  for (int i = 0; i < 7; ++i) {
    double ticks = 0;
    if (!(in >> ticks)) break;
    if (i != 3 && i != 4) busy += ticks;
  }
  return busy / ticks_per_second();
}

}  // namespace ef::fleet::load
