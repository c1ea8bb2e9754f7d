#include "util/file_io.hpp"

#include <unistd.h>

#include <cerrno>

namespace ef {

Result<void> pread_all(int fd, void* buf, size_t size, uint64_t offset,
                       const std::filesystem::path& path) {
  auto* p = static_cast<char*>(buf);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(Errc::io, "cannot read " + path.string(), errno);
    if (n == 0) {
      return Error(Errc::io,
                   path.string() + ": unexpected end of file at byte " + std::to_string(offset));
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Ok{};
}

Result<void> pwrite_all(int fd, const void* buf, size_t size, uint64_t offset,
                        const std::filesystem::path& path) {
  const auto* p = static_cast<const char*>(buf);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(Errc::io, "cannot write " + path.string(), errno);
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Ok{};
}

}  // namespace ef
