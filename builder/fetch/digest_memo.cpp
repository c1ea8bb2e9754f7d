#include "builder/fetch/digest_memo.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::fetch {

namespace {

int64_t nanoseconds(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

std::string FileIdentity::str() const {
  return std::to_string(device) + " " + std::to_string(inode) + " " + std::to_string(size) + " " +
         std::to_string(mtime_ns) + " " + std::to_string(ctime_ns);
}

Result<FileIdentity> file_identity(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return errno_error(Errc::io, "cannot stat " + file.string(), errno);
  FileIdentity id;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = nanoseconds(st.st_mtim);
  id.ctime_ns = nanoseconds(st.st_ctim);
  return id;
}

std::filesystem::path DigestMemo::entry_path(const std::filesystem::path& file) const {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(file, ec).lexically_normal();
  return dir_ / sha256_hex(absolute.string());
}

// Entry format: "<identity>\n<sha256>\n".
std::optional<std::string> DigestMemo::lookup(const std::filesystem::path& file,
                                              const FileIdentity& identity) const {
  auto text = read_file(entry_path(file));
  if (!text) return std::nullopt;
  std::string want = identity.str() + "\n";
  if (text->size() != want.size() + 65 || text->compare(0, want.size(), want) != 0)
    return std::nullopt;
  std::string digest = text->substr(want.size(), 64);
  if (!is_sha256_hex(digest)) return std::nullopt;
  return digest;
}

void DigestMemo::remember(const std::filesystem::path& file, const FileIdentity& identity,
                          const std::string& digest) const {
  (void)write_file_atomic(entry_path(file), identity.str() + "\n" + digest + "\n");
}

}  // namespace ef::fetch
