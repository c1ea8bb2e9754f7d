// What the benchmark reads from /proc about the processes it measures: CPU
// time (utime + stime), resident memory (VmRSS, VmHWM), a process's
// descendants (a PostgreSQL server's backends) and the machine's busy time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace ef::fleet::load {

/// CPU seconds process `pid` has used so far (all its threads), or nullopt
/// when it is gone.
std::optional<double> process_cpu_seconds(pid_t pid);

struct Memory {
  uint64_t rss_kib = 0;  // VmRSS
  uint64_t hwm_kib = 0;  // VmHWM: the highest VmRSS so far
};
std::optional<Memory> process_memory(pid_t pid);

/// `root` and every process below it.
std::vector<pid_t> process_tree(pid_t root);

/// CPU seconds this process has used (getrusage).
double own_cpu_seconds();

/// Seconds all CPUs of the machine were busy (not idle or waiting for I/O)
/// since boot, from /proc/stat.
double machine_busy_seconds();

}  // namespace ef::fleet::load
