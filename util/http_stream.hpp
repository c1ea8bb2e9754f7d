// Streaming a byte range of an HTTP(S) resource without storing it:
// dropped connections resume from the next byte not yet delivered, so a
// flaky link costs retries, not a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "util/error.hpp"

namespace ef {

struct HttpStreamOptions {
  int retries = 5;                         // further attempts after the first
  std::chrono::milliseconds backoff{500};  // times the attempt number
  long connect_timeout_seconds = 20;
  long low_speed_seconds = 30;  // below 1 KiB/s this long: retry
  /// Refuse a redirect to another scheme, host or port (chunk stores).
  bool same_origin_only = false;
  /// A CA bundle (PEM) to trust instead of the system's, for a private
  /// registry or store; empty: the system's.
  std::string ca_file;
};

/// Receives consecutive bytes; an error stops the transfer (never retried).
using ByteSink = std::function<Result<void>(const char* data, size_t size)>;

/// Delivers bytes [offset, offset + length) of `url` to `sink`, in order and
/// each exactly once. Requests "Range: bytes=N-"; a server that answers 200
/// has its leading bytes skipped; a 206 must say (Content-Range) that it
/// starts at N, else the answer is refused, not retried. Resets, timeouts, short bodies and 5xx are
/// retried from the first undelivered byte; 4xx and sink errors are not.
/// Errc::network names the URL, the byte reached and the last failure.
Result<void> http_stream(const std::string& url, uint64_t offset, uint64_t length,
                         const ByteSink& sink, const HttpStreamOptions& options = {});

/// A Content-Range value: "bytes FIRST-LAST/TOTAL", TOTAL a number or "*"
/// (RFC 9110 14.4), FIRST <= LAST < TOTAL. nullopt for anything else.
struct ContentRange {
  uint64_t first = 0, last = 0;
  std::optional<uint64_t> total;
};
std::optional<ContentRange> parse_content_range(std::string_view value);

/// One header line as curl hands it over ("Name: value\r\n"): the name
/// lower-cased, the value without surrounding blanks. nullopt for a status
/// line, the blank line and lines without a colon.
std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line);

/// http_stream of [offset, offset + size) into `out`.
Result<void> http_read(const std::string& url, uint64_t offset, char* out, size_t size,
                       const HttpStreamOptions& options = {});

}  // namespace ef
