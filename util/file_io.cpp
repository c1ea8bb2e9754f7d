#include "util/file_io.hpp"

#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

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

Result<void> stream_range(
    int fd, uint64_t offset, uint64_t length, const std::filesystem::path& path,
    const std::function<Result<void>(const char* data, size_t size, uint64_t position)>& fn) {
  ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                  POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(size_t{1} << 20);
  for (uint64_t done = 0; done < length;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    EF_TRY(pread_all(fd, buf.data(), n, offset + done, path));
    EF_TRY(fn(buf.data(), n, done));
    done += n;
  }
  return Ok{};
}

Result<std::filesystem::path> absolute_path(const std::filesystem::path& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec) return Error(Errc::io, "cannot resolve " + path.string() + ": " + ec.message());
  return abs;
}

}  // namespace ef
