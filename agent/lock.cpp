#include "agent/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace ef::agent {

Result<AgentLock> AgentLock::acquire(const std::filesystem::path& path, int wait_seconds,
                                     const std::string& holder) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return errno_error(Errc::io, "cannot open lock file " + path.string(), errno);
  return wait_for(std::move(fd), path, wait_seconds, holder);
}

Result<AgentLock> AgentLock::acquire_existing(const std::filesystem::path& path, int wait_seconds,
                                              const std::string& holder) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, "cannot open " + path.string() + " to lock it", errno);
  return wait_for(std::move(fd), path, wait_seconds, holder);
}

Result<AgentLock> AgentLock::wait_for(UniqueFd fd, const std::filesystem::path& path,
                                      int wait_seconds, const std::string& holder) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return errno_error(Errc::io, "cannot lock " + path.string(), errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(Errc::refused,
                   holder + " is running (it holds " + path.string() + "); wait for it to finish");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return AgentLock(std::move(fd));
}

}  // namespace ef::agent
