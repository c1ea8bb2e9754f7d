// HTTP requests over one kept-alive connection: many small whole-file GETs
// (a chunk store's files) and the few other methods a registry API needs.
// Bodies are bounded, redirects followed only within the same origin,
// transient failures retried with backoff.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/http_stream.hpp"

namespace ef {

/// Whether `a` and `b` have the same scheme, host and port (ports
/// defaulted). Unparsable URLs are never the same origin.
bool same_origin(const std::string& a, const std::string& b);

/// `relative` (a Location header: absolute, absolute-path or relative)
/// resolved against `base`; "" when it does not parse.
std::string resolve_url(const std::string& base, const std::string& relative);

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, PATCH
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent with PUT, POST, PATCH
  size_t max_bytes = 1 << 20;        // a longer response body is refused
  bool follow_redirects = true;      // within the same origin only
};

struct HttpResponse {
  long status = 0;
  std::string url;                             // after redirects
  std::map<std::string, std::string> headers;  // names lower-cased, last value wins
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(HttpStreamOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends `request`, retrying resets, timeouts and 5xx/408/429 with
  /// backoff. Any other status is returned as it is (the caller decides);
  /// a redirect to another origin and an oversized body are errors.
  Result<HttpResponse> send(const HttpRequest& request);

  /// The body of `url`, at most `max_bytes`; any status but 2xx is
  /// Errc::network naming the URL and the status ("HTTP 404").
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
