// One agent at a time: an exclusive flock on a lock file. The kernel drops
// the lock when the process dies, so a power cut or a crash never leaves a
// stale lock behind (unlike a PID file). The same lock on a disk is how a
// partitioner keeps systemd-udevd off it while it works (systemd's "Locking
// Block Device Access").
#pragma once

#include <filesystem>
#include <string>

#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {

class AgentLock {
 public:
  /// Takes the lock at `path` (created if missing), waiting up to
  /// `wait_seconds` for another holder to let go; a lock still held then is
  /// Errc::refused naming the file and `holder` (what takes this lock).
  static Result<AgentLock> acquire(const std::filesystem::path& path, int wait_seconds = 0,
                                   const std::string& holder = "another edgeforge-agent");
  /// Takes the lock on an existing file or block device opened read-only
  /// (nothing is created, and closing it is no write udev would react to).
  static Result<AgentLock> acquire_existing(const std::filesystem::path& path, int wait_seconds,
                                            const std::string& holder);

 private:
  explicit AgentLock(UniqueFd fd) : fd_(std::move(fd)) {}
  static Result<AgentLock> wait_for(UniqueFd fd, const std::filesystem::path& path,
                                    int wait_seconds, const std::string& holder);
  UniqueFd fd_;
};

}  // namespace ef::agent
