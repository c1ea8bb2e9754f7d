// Many small whole-file GETs over one kept-alive connection (a chunk
// store's files): bounded bodies, redirects followed only within the same
// origin, transient failures retried with backoff.
#pragma once

#include <memory>
#include <string>

#include "util/error.hpp"
#include "util/http_stream.hpp"

namespace ef {

/// Whether `a` and `b` have the same scheme, host and port (ports
/// defaulted). Unparsable URLs are never the same origin.
bool same_origin(const std::string& a, const std::string& b);

class HttpClient {
 public:
  explicit HttpClient(HttpStreamOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// The body of `url`, at most `max_bytes` (a longer one is refused as soon
  /// as it passes the limit). Redirects to another scheme, host or port are
  /// refused; 4xx are not retried; resets, timeouts and 5xx are.
  /// Errc::network naming the URL and what the server did (e.g. "HTTP 404").
  Result<std::string> get(const std::string& url, size_t max_bytes);

  /// Requests made so far (one per attempt and redirect).
  int requests() const { return requests_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpStreamOptions options_;
  int requests_ = 0;
};

}  // namespace ef
