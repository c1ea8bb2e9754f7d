#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ef {

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target) {
  std::error_code ec;
  if (target.has_parent_path()) {
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec)
      return Error(Errc::io,
                   "cannot create " + target.parent_path().string() + ": " + ec.message());
  }
  std::string tmpl = target.string() + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0)
    return errno_error(Errc::io, "cannot create temporary file for " + target.string(), errno);
  // mkostemp makes 0600 files; published outputs get the usual 0644.
  ::fchmod(fd, 0644);
  return AtomicFile(target, tmpl, fd);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : target_(std::move(other.target_)), temp_(std::move(other.temp_)), fd_(other.fd_) {
  other.fd_ = -1;
  other.temp_.clear();
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    target_ = std::move(other.target_);
    temp_ = std::move(other.temp_);
    fd_ = other.fd_;
    other.fd_ = -1;
    other.temp_.clear();
  }
  return *this;
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

Result<void> AtomicFile::write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(Errc::io, "cannot write " + temp_.string(), errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok{};
}

Result<void> AtomicFile::commit() {
  if (::fsync(fd_) != 0) return errno_error(Errc::io, "cannot sync " + temp_.string(), errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return errno_error(Errc::io, "cannot close " + temp_.string(), errno);
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    return errno_error(Errc::io, "cannot rename " + temp_.string() + " to " + target_.string(),
                       errno);
  temp_.clear();
  // The rename is only durable once the directory entry is: without this a
  // power cut can bring back the old file (or none) after commit() returned.
  std::filesystem::path dir = target_.has_parent_path() ? target_.parent_path() : ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) return errno_error(Errc::io, "cannot sync directory " + dir.string(), err);
  }
  return Ok{};
}

Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view data) {
  EF_ASSIGN(auto file, AtomicFile::create(target));
  EF_TRY(file.write(data));
  return file.commit();
}

Result<void> sync_filesystem(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error(Errc::io, "cannot open " + path.string(), errno);
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_error(Errc::io, "cannot sync the filesystem of " + path.string(), err);
  return Ok{};
}

Result<std::string> read_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno_error(errno == ENOENT || errno == ENOTDIR ? Errc::not_found : Errc::io,
                       "cannot open " + path.string(), errno);
  // Sized once from fstat (a file that grows meanwhile is read to its end).
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
    out.reserve(static_cast<size_t>(st.st_size));
  char buf[64 << 10];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return errno_error(Errc::io, "cannot read " + path.string(), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace ef
