#include "util/http_client.hpp"

#include <curl/curl.h>

#include <array>
#include <thread>

namespace ef {
namespace {

using CurlUrl = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

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

struct Body {
  std::string data;
  size_t max = 0;
  bool too_long = false;
};

size_t on_body(char* p, size_t size, size_t nmemb, void* user) {
  auto& b = *static_cast<Body*>(user);
  size_t n = size * nmemb;
  if (b.data.size() + n > b.max) {
    b.too_long = true;
    return 0;
  }
  b.data.append(p, n);
  return n;
}

template <typename T>
void set_opt(CURL* curl, CURLoption option, T value) {
  (void)curl_easy_setopt(curl, option, value);
}

}  // namespace

bool same_origin(const std::string& a, const std::string& b) {
  std::string oa = origin(a);
  return !oa.empty() && oa == origin(b);
}

struct HttpClient::Impl {
  CURL* curl = curl_easy_init();
  ~Impl() {
    if (curl) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient(HttpStreamOptions options)
    : impl_(std::make_unique<Impl>()), options_(options) {}
HttpClient::~HttpClient() = default;

Result<std::string> HttpClient::get(const std::string& first_url, size_t max_bytes) {
  CURL* curl = impl_->curl;
  if (!curl) return Error(Errc::internal, "curl_easy_init failed");
  std::string url = first_url, failure;
  int redirects = 0;
  for (int attempt = 0; attempt <= options_.retries;) {
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    Body body;
    body.max = max_bytes;
    curl_easy_reset(curl);  // keeps the connection cache: keep-alive
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
    set_opt(curl, CURLOPT_WRITEDATA, static_cast<void*>(&body));
    ++requests_;
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (body.too_long)
      return Error(Errc::network, url + ": the server sent more than the " +
                                      std::to_string(max_bytes) + " bytes expected");
    if (rc == CURLE_OK && code >= 300 && code < 400) {
      char* location = nullptr;
      curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
      if (location == nullptr)
        return Error(Errc::network, url + ": HTTP " + std::to_string(code) + " without a location");
      if (!same_origin(location, first_url))
        return Error(Errc::network, url + ": redirected to another host (" + location +
                                        "); a store must serve its files itself");
      if (++redirects > 5) return Error(Errc::network, first_url + ": too many redirects");
      url = location;
      continue;
    }
    if (rc == CURLE_OK && code >= 200 && code < 300) return std::move(body.data);
    if (rc == CURLE_OK) {
      failure = "HTTP " + std::to_string(code);
      bool transient = code >= 500 || code == 408 || code == 429;
      if (!transient) break;
    } else {
      failure = error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(rc);
      if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) break;
    }
    if (++attempt <= options_.retries) std::this_thread::sleep_for(options_.backoff * attempt);
  }
  return Error(Errc::network, url + ": " + failure);
}

}  // namespace ef
