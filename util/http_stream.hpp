// Streaming a byte range of an HTTP(S) resource without storing it:
// dropped connections resume from the next byte not yet delivered, so a
// flaky link costs retries, not a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

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
/// has its leading bytes skipped. Resets, timeouts, short bodies and 5xx are
/// retried from the first undelivered byte; 4xx and sink errors are not.
/// Errc::network names the URL, the byte reached and the last failure.
Result<void> http_stream(const std::string& url, uint64_t offset, uint64_t length,
                         const ByteSink& sink, const HttpStreamOptions& options = {});

/// http_stream of [offset, offset + size) into `out`.
Result<void> http_read(const std::string& url, uint64_t offset, char* out, size_t size,
                       const HttpStreamOptions& options = {});

}  // namespace ef
