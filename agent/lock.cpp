#include "agent/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace ef::agent {

Result<AgentLock> AgentLock::acquire(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return errno_error(Errc::io, "cannot open lock file " + path.string(), errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error(Errc::refused, "another edgeforge-agent is running (it holds " + path.string() +
                                      "); wait for it to finish");
    }
    return errno_error(Errc::io, "cannot lock " + path.string(), errno);
  }
  return AgentLock(std::move(fd));
}

}  // namespace ef::agent
