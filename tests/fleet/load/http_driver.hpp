// The load generator's HTTP/1.1 client: one thread, an epoll loop over a
// fixed number of keep-alive connections spread round-robin over one or more
// servers (what a layer-4 load balancer in front of several service
// instances does). A Workload says what to send next and hears each answer;
// the driver only moves bytes, so it costs little beside the server it
// measures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ef::fleet::load {

/// An http://HOST:PORT server (IPv4 address; no TLS).
struct Target {
  std::string host;
  uint16_t port = 0;
  std::string url() const { return "http://" + host + ":" + std::to_string(port); }
};
/// Parses "http://127.0.0.1:8480" (a path after the port is ignored).
Result<Target> parse_target(const std::string& url);

/// One request as the workload hands it out.
struct Request {
  std::string bytes;      // the whole request, head and body
  uint64_t tag = 0;       // the workload's own ID for it
  int64_t origin_ns = 0;  // latency counts from here (monotonic); 0: from when it is sent
};

/// Monotonic nanoseconds (CLOCK_MONOTONIC).
int64_t monotonic_ns();

class Workload {
 public:
  virtual ~Workload() = default;
  /// The request to send now on a free connection to `target` (its index),
  /// or nullopt for none now. Then `wake_ns` (monotonic) says when to ask
  /// again; left at 0, the driver asks after the next answer.
  virtual std::optional<Request> next(size_t target, int64_t now_ns, int64_t& wake_ns) = 0;
  /// The answer to `r`: its HTTP status (0 when the connection failed
  /// before one came), its body, and the time it took from r.origin_ns.
  virtual void answered(const Request& r, int status, std::string_view body, int64_t now_ns,
                        int64_t latency_ns) = 0;
  /// True once no more requests will be sent; the driver then waits for
  /// the answers in flight and returns.
  virtual bool finished(int64_t now_ns) = 0;
};

struct DriverStats {
  uint64_t connects = 0;           // connections opened (more than asked: the server closed some)
  uint64_t connection_errors = 0;  // requests that got no answer
};

/// Runs `workload` over `connections` connections until it is finished.
/// Errors: Errc::network when not one connection can be opened.
Result<DriverStats> drive(const std::vector<Target>& targets, unsigned connections,
                          Workload& workload);

}  // namespace ef::fleet::load
