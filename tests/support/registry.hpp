// Debian's docker-registry (the CNCF distribution registry) started on
// 127.0.0.1 with a temporary config and storage, optionally behind
// htpasswd basic auth, for publish and fetch tests.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace ef::test {

class Registry {
 public:
  /// `user`/`password` non-empty: the registry asks for them (htpasswd).
  Registry(const std::filesystem::path& dir, const std::string& user = "",
           const std::string& password = "");
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  bool ok() const { return pid_ > 0 && up_; }
  std::string host() const;  // "127.0.0.1:PORT"
  std::filesystem::path log() const { return dir_ / "registry.log"; }
  /// Requests in the registry's access log with `method`, a URL containing
  /// `needle` and the answer `status`.
  int requests(const std::string& method, const std::string& needle, int status = 200) const;

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool up_ = false;
};

}  // namespace ef::test
