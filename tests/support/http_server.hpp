// A tiny HTTP/1.1 server on 127.0.0.1 for download tests: serves one body
// at every path, honours "Range: bytes=N-", and misbehaves on request.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ef::test {

class HttpServer {
 public:
  /// How to answer one request.
  enum class Action {
    serve,         // 200, or 206 for a Range request
    close_after,   // like serve, but drop the connection after `bytes` body bytes
    ignore_range,  // 200 with the whole body even for a Range request
    wrong_bytes,   // 200 with a body of the right length but wrong content
    wrong_range,   // 206 with the whole body, whatever range was asked for
    error_500,
    error_404,
  };
  struct Step {
    Action action = Action::serve;
    size_t bytes = 0;  // close_after
  };

  explicit HttpServer(std::string body);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Answers the next requests with `steps`, in order; then serves normally.
  void script(std::vector<Step> steps);
  /// "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path = "/blob") const;
  int requests() const;
  /// The Range header value of each request so far ("" when absent).
  std::vector<std::string> ranges() const;
  /// Serves `body` at `path` (e.g. "/k3s"); once any route is set, paths
  /// without one answer 404.
  void route(const std::string& path, std::string body);
  /// Answers every request for `path` with HTTP `status` (and a Location
  /// header when `location` is set, for redirects), whatever else is set;
  /// status 0 removes the rule.
  void route_status(const std::string& path, int status, std::string location = "");
  /// The request path of each request so far.
  std::vector<std::string> paths() const;

 private:
  void loop();
  void handle(int fd);
  Step next_step();

  std::string body_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  mutable std::mutex mutex_;
  std::deque<Step> steps_;
  std::vector<std::string> ranges_;
  std::vector<std::string> paths_;
  std::map<std::string, std::string> routes_;
  std::map<std::string, std::pair<int, std::string>> statuses_;
  std::thread thread_;
};

/// "http://127.0.0.1:<port><path>" for a port nothing listens on (it was
/// bound and released): connections are refused, as on a host that is down.
std::string refused_url(const std::string& path = "/blob");

}  // namespace ef::test
