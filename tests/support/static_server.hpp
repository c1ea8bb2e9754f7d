// Real static file servers for the download tests, started on 127.0.0.1 on a
// port the kernel picks: python3's http.server (what many operators serve a
// directory with: Last-Modified and If-Modified-Since, no ETag), and a TCP
// relay in front of any server that counts the bytes and connections that
// cross it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace ef::test {

class StaticServer {
 public:
  /// Serves `dir`; the access log goes to `log`.
  StaticServer(const std::filesystem::path& dir, const std::filesystem::path& log);
  ~StaticServer();
  StaticServer(const StaticServer&) = delete;
  StaticServer& operator=(const StaticServer&) = delete;

  int port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path) const;
  /// Lines of the access log matching the ECMAScript regex `pattern`
  /// (e.g. "\"GET /chunks/" or "\" 304 ").
  int count(const std::string& pattern) const;

 private:
  std::filesystem::path log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

/// A relay on 127.0.0.1 to 127.0.0.1:`target_port` that counts what crosses it.
class CountingRelay {
 public:
  explicit CountingRelay(int target_port, const std::filesystem::path& counts);
  ~CountingRelay();
  CountingRelay(const CountingRelay&) = delete;
  CountingRelay& operator=(const CountingRelay&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  struct Counts {
    long long connections = 0, to_server = 0, to_client = 0;
  };
  /// What has crossed so far (connections closed so far).
  Counts counts() const;

 private:
  std::filesystem::path counts_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ef::test
