#include "util/staging_dir.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>

#include "util/file_io.hpp"

namespace ef {

namespace fs = std::filesystem;

Result<StagingDir> StagingDir::create(const fs::path& dir, const std::string& label) {
  EF_ASSIGN(fs::path abs, absolute_path(dir));
  std::error_code ec;
  if (!abs.has_filename()) abs = abs.parent_path();  // "out/" -> "out"
  // The directories this run makes, so a failed run can take them back.
  std::vector<fs::path> created;
  for (fs::path p = abs; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.root_path()) break;
  }
  fs::create_directories(abs, ec);
  if (ec) return Error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  std::string tmpl = (abs / ("." + label + ".staging-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    int err = errno;
    for (const auto& c : created) fs::remove(c, ec);
    return errno_error(Errc::io, "cannot create a staging directory in " + dir.string(), err);
  }
  return StagingDir(abs, fs::path(tmpl), std::move(created));
}

StagingDir::StagingDir(StagingDir&& other) noexcept
    : dir_(std::move(other.dir_)),
      staging_(std::move(other.staging_)),
      created_(std::move(other.created_)) {
  other.staging_.clear();
  other.created_.clear();
}

StagingDir& StagingDir::operator=(StagingDir&& other) noexcept {
  if (this != &other) {
    discard();
    dir_ = std::move(other.dir_);
    staging_ = std::move(other.staging_);
    created_ = std::move(other.created_);
    other.staging_.clear();
    other.created_.clear();
  }
  return *this;
}

StagingDir::~StagingDir() {
  discard();
}

void StagingDir::discard() {
  if (staging_.empty()) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
  staging_.clear();
  for (const auto& c : created_) fs::remove(c, ec);  // only when empty
  created_.clear();
}

Result<void> StagingDir::commit(const std::vector<std::string>& names) {
  // Every file must be there before the first rename: a missing one found
  // halfway would leave a mixed set behind.
  for (const auto& name : names)
    if (::access(staged(name).c_str(), F_OK) != 0)
      return errno_error(Errc::internal, "staged output " + staged(name).string() + " is missing",
                         errno);
  for (const auto& name : names)
    if (::rename(staged(name).c_str(), (dir_ / name).c_str()) != 0)
      return errno_error(Errc::io, "cannot move " + name + " into " + dir_.string(), errno);
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) return errno_error(Errc::io, "cannot sync directory " + dir_.string(), err);
  }
  std::error_code ec;
  fs::remove_all(staging_, ec);
  staging_.clear();
  created_.clear();
  return Ok{};
}

}  // namespace ef
