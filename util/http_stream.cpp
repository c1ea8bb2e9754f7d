#include "util/http_stream.hpp"

#include "util/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>

namespace ef {
namespace {

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

/// State of one attempt, shared with curl's callbacks.
struct Transfer {
  const ByteSink* sink = nullptr;
  uint64_t next = 0;      // absolute offset of the next byte to deliver
  uint64_t end = 0;       // one past the last byte wanted
  uint64_t position = 0;  // absolute offset of the next byte in this response
  bool started = false;   // status line and headers seen, position known
  std::optional<Error> sink_error;
  CURL* curl = nullptr;
  const std::string* url = nullptr;          // as asked
  bool same_origin_only = false;             // refuse a redirect elsewhere
  std::optional<std::string> content_range;  // of the last response's headers
};

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  size_t total = size * nmemb;
  std::string_view line(data, total);
  if (line.starts_with("HTTP/")) t.content_range.reset();  // a new response (a redirect's next)
  if (auto header = parse_header_line(line); header && header->first == "content-range")
    t.content_range = header->second;
  return total;
}

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  size_t total = size * nmemb;
  if (!t.started && t.same_origin_only) {
    char* effective = nullptr;
    curl_easy_getinfo(t.curl, CURLINFO_EFFECTIVE_URL, &effective);
    if (effective != nullptr && !same_origin(effective, *t.url)) {
      t.sink_error =
          Error(Errc::network, *t.url + ": redirected to another host (" + std::string(effective) +
                                   "); a store must serve its files itself");
      return 0;
    }
  }
  if (!t.started) {
    long code = 0;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &code);
    // 206 starts where we asked, and must say so; 200 starts at byte 0
    // (skip what we have).
    if (code == 206) {
      auto range = t.content_range ? parse_content_range(*t.content_range) : std::nullopt;
      if (!range || range->first != t.next) {
        t.sink_error =
            Error(Errc::network, *t.url + ": answered a request for bytes " +
                                     std::to_string(t.next) + "- with " +
                                     (t.content_range ? "Content-Range \"" + *t.content_range + "\""
                                                      : std::string("no Content-Range")) +
                                     "; the server does not serve byte ranges correctly");
        return 0;
      }
    }
    t.position = code == 206 ? t.next : 0;
    t.started = true;
  }
  const char* p = data;
  size_t n = total;
  if (t.position < t.next) {  // already delivered (a 200 answer): skip
    uint64_t skip = std::min<uint64_t>(n, t.next - t.position);
    p += skip;
    n -= skip;
    t.position += skip;
  }
  n = static_cast<size_t>(std::min<uint64_t>(n, t.end - t.next));
  if (n > 0) {
    auto r = (*t.sink)(p, n);
    if (!r) {
      t.sink_error = std::move(r).error();
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    t.next += n;
    t.position += n;
  }
  // Everything wanted has arrived: abort the rest of the body (the caller
  // sees that every byte came and ignores curl's write error).
  return t.next == t.end ? 0 : total;
}

template <typename T>
void set_opt(CURL* curl, CURLoption option, T value) {
  (void)curl_easy_setopt(curl, option, value);
}

bool retryable(CURLcode rc, long http_code) {
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    return http_code >= 500 || http_code == 408 || http_code == 429;
  }
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
      return false;
    default:
      return true;
  }
}

// Digits only (no sign, no blanks), within uint64_t.
bool parse_u64(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) {
  constexpr std::string_view unit = "bytes ";
  if (!value.starts_with(unit)) return std::nullopt;
  value.remove_prefix(unit.size());
  size_t dash = value.find('-'), slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
    return std::nullopt;
  ContentRange r;
  if (!parse_u64(value.substr(0, dash), r.first) ||
      !parse_u64(value.substr(dash + 1, slash - dash - 1), r.last) || r.last < r.first)
    return std::nullopt;
  std::string_view total = value.substr(slash + 1);
  if (total != "*") {
    uint64_t n = 0;
    if (!parse_u64(total, n) || r.last >= n) return std::nullopt;
    r.total = n;
  }
  return r;
}

std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line) {
  if (line.starts_with("HTTP/")) return std::nullopt;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!value.empty() && blank(value.front())) value.remove_prefix(1);
  while (!value.empty() && blank(value.back())) value.remove_suffix(1);
  return std::pair{std::move(name), std::string(value)};
}

Result<void> http_stream(const std::string& url, uint64_t offset, uint64_t length,
                         const ByteSink& sink, const HttpStreamOptions& options) {
  Transfer t;
  t.sink = &sink;
  t.next = offset;
  t.end = offset + length;
  t.url = &url;
  t.same_origin_only = options.same_origin_only;
  std::string last_failure;
  for (int attempt = 0; attempt <= options.retries && t.next < t.end; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(options.backoff * attempt);
    CurlHandle curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return Error(Errc::internal, "curl_easy_init failed");
    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    std::string range = std::to_string(t.next) + "-";
    t.started = false;
    t.content_range.reset();
    t.curl = curl.get();
    set_opt(curl.get(), CURLOPT_URL, url.c_str());
    set_opt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    set_opt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    set_opt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set_opt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    set_opt(curl.get(), CURLOPT_MAXREDIRS, 5L);
    set_opt(curl.get(), CURLOPT_FAILONERROR, 1L);
    set_opt(curl.get(), CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
    set_opt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
    set_opt(curl.get(), CURLOPT_LOW_SPEED_TIME, options.low_speed_seconds);
    set_opt(curl.get(), CURLOPT_USERAGENT, "edgeforge");
    set_opt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer.data());
    set_opt(curl.get(), CURLOPT_WRITEFUNCTION, &on_body);
    set_opt(curl.get(), CURLOPT_WRITEDATA, static_cast<void*>(&t));
    set_opt(curl.get(), CURLOPT_HEADERFUNCTION, &on_header);
    set_opt(curl.get(), CURLOPT_HEADERDATA, static_cast<void*>(&t));
    set_opt(curl.get(), CURLOPT_RANGE, range.c_str());
    if (!options.ca_file.empty()) set_opt(curl.get(), CURLOPT_CAINFO, options.ca_file.c_str());
    CURLcode rc = curl_easy_perform(curl.get());
    if (t.sink_error) return std::move(*t.sink_error);
    if (t.next == t.end) return Ok{};  // stopping early on purpose reports a write error
    long code = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
    last_failure = rc == CURLE_OK
                       ? "the body ended " + std::to_string(t.end - t.next) + " bytes early"
                       : (error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(rc));
    if (rc != CURLE_OK && !retryable(rc, code)) break;
  }
  if (t.next == t.end) return Ok{};
  return Error(Errc::network, url + ": download stopped at byte " + std::to_string(t.next) +
                                  " of " + std::to_string(t.end) + ": " + last_failure);
}

Result<void> http_read(const std::string& url, uint64_t offset, char* out, size_t size,
                       const HttpStreamOptions& options) {
  size_t filled = 0;
  return http_stream(
      url, offset, size,
      [&](const char* p, size_t n) -> Result<void> {
        std::copy(p, p + n, out + filled);
        filled += n;
        return Ok{};
      },
      options);
}

}  // namespace ef
