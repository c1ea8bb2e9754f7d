#include "util/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <thread>

namespace ef {
namespace {

using CurlUrl = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;
using CurlList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;
using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

// scheme://host:port of `url`, "" when it does not parse.
std::string origin(const std::string& url) {
  CurlUrl u(curl_url(), &curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  std::string out;
  for (auto part : {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT}) {
    char* value = nullptr;
    if (curl_url_get(u.get(), part, &value, CURLU_DEFAULT_PORT) != CURLUE_OK) return "";
    out += std::string(value) + "|";
    curl_free(value);
  }
  return out;
}

struct Received {
  std::string body;
  std::map<std::string, std::string> headers;
  size_t max = 0;
  bool too_long = false;
};

size_t on_body(char* p, size_t size, size_t nmemb, void* user) {
  auto& r = *static_cast<Received*>(user);
  size_t n = size * nmemb;
  if (r.body.size() + n > r.max) {
    r.too_long = true;
    return 0;
  }
  r.body.append(p, n);
  return n;
}

size_t on_header(char* p, size_t size, size_t nmemb, void* user) {
  auto& r = *static_cast<Received*>(user);
  size_t n = size * nmemb;
  std::string_view line(p, n);
  if (line.starts_with("HTTP/")) r.headers.clear();  // a new response (after 100 or a redirect)
  if (auto header = parse_header_line(line)) r.headers[header->first] = std::move(header->second);
  return n;
}

template <typename T>
void set_opt(CURL* curl, CURLoption option, T value) {
  (void)curl_easy_setopt(curl, option, value);
}

bool transient_status(long code) {
  return code >= 500 || code == 408 || code == 429;
}

}  // namespace

bool same_origin(const std::string& a, const std::string& b) {
  std::string oa = origin(a);
  return !oa.empty() && oa == origin(b);
}

std::string resolve_url(const std::string& base, const std::string& relative) {
  CurlUrl u(curl_url(), &curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_URL, relative.c_str(), 0) != CURLUE_OK)
    return "";
  char* out = nullptr;
  if (curl_url_get(u.get(), CURLUPART_URL, &out, 0) != CURLUE_OK) return "";
  std::string s(out);
  curl_free(out);
  return s;
}

// One easy handle per request, the connections kept in a share so that
// keep-alive survives from one request to the next. Not one easy handle
// reset between requests: libcurl 7.88 (Debian 12) then reads freed memory
// when the next answer's first header line is folded (the `http` fuzz
// target's regression input `curl-folded-header-after-reset`).
struct HttpClient::Impl {
  CURLSH* share = curl_share_init();
  Impl() {
    if (share == nullptr) return;
    for (auto data : {CURL_LOCK_DATA_CONNECT, CURL_LOCK_DATA_DNS, CURL_LOCK_DATA_SSL_SESSION})
      (void)curl_share_setopt(share, CURLSHOPT_SHARE, data);
  }
  ~Impl() {
    if (share != nullptr) curl_share_cleanup(share);
  }
};

HttpClient::HttpClient(HttpStreamOptions options)
    : impl_(std::make_unique<Impl>()), options_(options) {}
HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  if (impl_->share == nullptr) return Error(Errc::internal, "curl_share_init failed");
  std::string url = request.url, failure;
  int redirects = 0;
  for (int attempt = 0; attempt <= options_.retries;) {
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    Received got;
    got.max = request.max_bytes;
    CurlList headers(nullptr, &curl_slist_free_all);
    for (const auto& h : request.headers)
      headers.reset(curl_slist_append(headers.release(), h.c_str()));
    CurlHandle handle(curl_easy_init(), &curl_easy_cleanup);
    if (!handle) return Error(Errc::internal, "curl_easy_init failed");
    CURL* curl = handle.get();
    set_opt(curl, CURLOPT_SHARE, impl_->share);  // the kept-alive connections
    set_opt(curl, CURLOPT_URL, url.c_str());
    set_opt(curl, CURLOPT_NOSIGNAL, 1L);
    set_opt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    set_opt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // followed below, same origin only
    set_opt(curl, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
    set_opt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    set_opt(curl, CURLOPT_LOW_SPEED_TIME, options_.low_speed_seconds);
    set_opt(curl, CURLOPT_USERAGENT, "edgeforge");
    set_opt(curl, CURLOPT_ERRORBUFFER, error_buffer.data());
    set_opt(curl, CURLOPT_WRITEFUNCTION, &on_body);
    set_opt(curl, CURLOPT_WRITEDATA, static_cast<void*>(&got));
    set_opt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    set_opt(curl, CURLOPT_HEADERDATA, static_cast<void*>(&got));
    set_opt(curl, CURLOPT_HTTPHEADER, headers.get());
    if (!options_.ca_file.empty()) set_opt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (request.method == "HEAD") {
      set_opt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
      set_opt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      set_opt(curl, CURLOPT_POSTFIELDS, request.body.data());
      set_opt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    ++requests_;
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (got.too_long)
      return Error(Errc::network, url + ": the server sent more than the " +
                                      std::to_string(request.max_bytes) + " bytes expected");
    if (rc == CURLE_OK && request.follow_redirects && code >= 300 && code < 400 &&
        got.headers.count("location")) {
      std::string next = resolve_url(url, got.headers["location"]);
      if (!same_origin(next, request.url))
        return Error(Errc::network, url + ": redirected to another host (" +
                                        got.headers["location"] +
                                        "); a store must serve its files itself");
      if (++redirects > 5) return Error(Errc::network, request.url + ": too many redirects");
      url = next;
      continue;
    }
    if (rc == CURLE_OK && !transient_status(code))
      return HttpResponse{code, url, std::move(got.headers), std::move(got.body)};
    if (rc == CURLE_OK) {
      failure = "HTTP " + std::to_string(code);
    } else {
      failure = error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(rc);
      if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) break;
    }
    if (++attempt <= options_.retries) std::this_thread::sleep_for(options_.backoff * attempt);
  }
  return Error(Errc::network, url + ": " + failure);
}

Result<std::string> HttpClient::get(const std::string& url, size_t max_bytes) {
  HttpRequest r;
  r.url = url;
  r.max_bytes = max_bytes;
  EF_ASSIGN(HttpResponse response, send(r));
  if (response.status < 200 || response.status >= 300)
    return Error(Errc::network, response.url + ": HTTP " + std::to_string(response.status));
  return std::move(response.body);
}

}  // namespace ef
