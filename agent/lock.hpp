// One agent at a time: an exclusive flock on a lock file. The kernel drops
// the lock when the process dies, so a power cut or a crash never leaves a
// stale lock behind (unlike a PID file).
#pragma once

#include <filesystem>

#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {

class AgentLock {
 public:
  /// Takes the lock at `path` (created if missing) without waiting; a lock
  /// held by another process is Errc::refused naming the file.
  static Result<AgentLock> acquire(const std::filesystem::path& path);

 private:
  explicit AgentLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ef::agent
