#include "tests/fleet/load/http_driver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace ef::fleet::load {
namespace {

constexpr int64_t kMs = 1000 * 1000;
constexpr int64_t kStallNs = 30 * 1000 * kMs;  // no progress at all for this long: give up
// A connection idle this long is opened again before it is used: the
// service closes idle ones after 15 s, and a request sent as it does fails.
constexpr int64_t kIdleNs = 10 * 1000 * kMs;

enum class State { closed, connecting, idle, busy };

struct Connection {
  size_t target = 0;
  int fd = -1;
  State state = State::closed;
  int64_t reconnect_at = 0;
  int64_t used_at = 0;    // when it last connected or answered
  unsigned failures = 0;  // connects in a row that failed
  Request request;
  size_t written = 0;
  std::string in;
};

/// The length of a complete response at the front of `in` (0: not yet
/// complete) and its status, body and whether the server closes after it.
struct Parsed {
  size_t length = 0;
  int status = 0;
  size_t body_at = 0, body_size = 0;
  bool close = false;
  bool malformed = false;
};

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

std::string_view header_value(std::string_view line) {
  auto v = line.substr(line.find(':') + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return v;
}

Parsed parse_response(const std::string& in) {
  Parsed p;
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return p;
  std::string_view head(in.data(), end);
  if (head.size() < 12 || !head.starts_with("HTTP/1.")) {
    p.malformed = true;
    return p;
  }
  p.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  bool has_length = false;
  size_t at = head.find("\r\n");
  while (at != std::string_view::npos) {
    const size_t next = head.find("\r\n", at + 2);
    std::string_view line =
        head.substr(at + 2, next == std::string_view::npos ? next : next - at - 2);
    if (header_is(line, "content-length")) {
      p.body_size = std::strtoull(std::string(header_value(line)).c_str(), nullptr, 10);
      has_length = true;
    } else if (header_is(line, "connection")) {
      p.close = header_value(line).starts_with("close");
    } else if (header_is(line, "transfer-encoding")) {
      p.malformed = true;  // the service sends lengths; chunked answers are not read here
      return p;
    }
    at = next;
  }
  if (!has_length && p.status != 204 && p.status != 304) {
    p.malformed = true;
    return p;
  }
  p.body_at = end + 4;
  if (in.size() < p.body_at + p.body_size) return p;
  p.length = p.body_at + p.body_size;
  return p;
}

class Loop {
 public:
  Loop(const std::vector<Target>& targets, unsigned connections, Workload& w)
      : targets_(targets), workload_(w), connections_(connections) {
    for (unsigned i = 0; i < connections; ++i) connections_[i].target = i % targets.size();
  }
  ~Loop() {
    for (auto& c : connections_)
      if (c.fd >= 0) ::close(c.fd);
    if (epoll_ >= 0) ::close(epoll_);
  }

  Result<DriverStats> run() {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return errno_error(Errc::io, "epoll_create1", errno);
    for (const Target& t : targets_) EF_TRY(probe(t));
    for (auto& c : connections_) open(c);
    last_progress_ = monotonic_ns();
    std::vector<epoll_event> events(connections_.size() + 1);
    while (true) {
      int64_t now = monotonic_ns();
      const bool finished = workload_.finished(now);
      if (finished && in_flight_ == 0) break;
      if (now - last_progress_ > kStallNs)
        return Error(Errc::network, "no answer from " + targets_[0].url() +
                                        (targets_.size() > 1 ? " and the others" : "") +
                                        " for 30 s; is the service still running?");
      int64_t wake = now + 100 * kMs;
      // The first free connection takes the next request: the one used most
      // recently, as a load balancer's keep-alive pool does.
      for (auto& c : connections_) {
        if (c.state == State::idle && now - c.used_at > kIdleNs) close_idle(c);
        if (c.state == State::closed && !finished) {
          if (c.reconnect_at <= now)
            open(c);
          else
            wake = std::min(wake, c.reconnect_at);
        }
        if (c.state == State::idle && !finished) feed(c, now, wake);
      }
      const int64_t wait_ns = std::max<int64_t>(0, wake - monotonic_ns());
      // Round up so a wake-up 0.3 ms away does not spin.
      const int timeout = static_cast<int>((wait_ns + kMs - 1) / kMs);
      int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) return errno_error(Errc::io, "epoll_wait", errno);
      for (int i = 0; i < n; ++i) {
        Connection& c = connections_[events[static_cast<size_t>(i)].data.u64];
        on_event(c, events[static_cast<size_t>(i)].events);
      }
    }
    return stats_;
  }

 private:
  // A blocking connect first, so a server that is not there is one clear error.
  Result<void> probe(const Target& t) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_error(Errc::io, "socket", errno);
    sockaddr_in a = address(t);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_error(Errc::network, "cannot connect to " + t.url(), err);
    return Ok{};
  }

  static sockaddr_in address(const Target& t) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(t.port);
    inet_pton(AF_INET, t.host.c_str(), &a.sin_addr);
    return a;
  }

  size_t index_of(const Connection& c) const {
    return static_cast<size_t>(&c - connections_.data());
  }

  void open(Connection& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(c);
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a = address(targets_[c.target]);
    int rc = ::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (rc != 0 && errno != EINPROGRESS) return fail(c);
    epoll_event e{};
    e.events = EPOLLOUT | EPOLLIN;
    e.data.u64 = index_of(c);
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &e);
    c.state = rc == 0 ? State::idle : State::connecting;
    c.used_at = monotonic_ns();
    ++stats_.connects;
  }

  // The connection broke: the request on it (if any) got no answer; try
  // again soon, later after repeated failures.
  void fail(Connection& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    if (c.state == State::busy) finish(c, 0, {});
    c.state = State::closed;
    c.in.clear();
    ++c.failures;
    c.reconnect_at = monotonic_ns() + std::min<int64_t>(c.failures * 50 * kMs, 1000 * kMs);
  }

  void watch_writes(Connection& c, bool on) {
    epoll_event e{};
    e.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    e.data.u64 = index_of(c);
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &e);
  }

  void feed(Connection& c, int64_t now, int64_t& wake) {
    int64_t asked = 0;
    auto r = workload_.next(c.target, now, asked);
    if (!r) {
      if (asked > 0) wake = std::min(wake, asked);
      return;
    }
    c.request = std::move(*r);
    if (c.request.origin_ns == 0) c.request.origin_ns = now;
    c.written = 0;
    c.state = State::busy;
    ++in_flight_;
    write_some(c);
  }

  void write_some(Connection& c) {
    const std::string& out = c.request.bytes;
    while (c.written < out.size()) {
      ssize_t n = ::send(c.fd, out.data() + c.written, out.size() - c.written, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) return watch_writes(c, true);
      if (n <= 0) return fail(c);
      c.written += static_cast<size_t>(n);
    }
    watch_writes(c, false);
  }

  void on_event(Connection& c, uint32_t events) {
    if (c.fd < 0) return;
    if (c.state == State::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) return fail(c);
      c.state = State::idle;
      c.failures = 0;
      c.used_at = monotonic_ns();
      watch_writes(c, false);
      return;
    }
    if ((events & EPOLLOUT) && c.state == State::busy && c.written < c.request.bytes.size())
      write_some(c);
    if (c.fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_some(c);
  }

  void read_some(Connection& c) {
    char buf[16384];
    bool eof = false;
    while (true) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        eof = true;
        break;
      }
      c.in.append(buf, static_cast<size_t>(n));
    }
    if (c.state == State::busy) {
      Parsed p = parse_response(c.in);
      if (p.malformed) return fail(c);
      if (p.length > 0) {
        finish(c, p.status, std::string_view(c.in).substr(p.body_at, p.body_size));
        c.in.erase(0, p.length);
        c.failures = 0;
        eof = eof || p.close;
      }
    } else if (!c.in.empty()) {
      return fail(c);  // bytes nobody asked for
    }
    if (eof) {
      // Closed by the server: an answer still missing is an error (fail()
      // reports it); an idle connection is opened again at once.
      const bool was_busy = c.state == State::busy;
      fail(c);
      if (!was_busy) {
        c.failures = 0;
        c.reconnect_at = 0;
      }
    }
  }

  void close_idle(Connection& c) {
    ::close(c.fd);
    c.fd = -1;
    c.state = State::closed;
    c.in.clear();
    c.reconnect_at = 0;
  }

  void finish(Connection& c, int status, std::string_view body) {
    const int64_t now = monotonic_ns();
    c.used_at = now;
    if (status == 0) ++stats_.connection_errors;
    c.state = State::idle;
    --in_flight_;
    last_progress_ = now;
    workload_.answered(c.request, status, body, now, now - c.request.origin_ns);
  }

  const std::vector<Target>& targets_;
  Workload& workload_;
  std::vector<Connection> connections_;
  int epoll_ = -1;
  size_t in_flight_ = 0;
  int64_t last_progress_ = 0;
  DriverStats stats_;
};

}  // namespace

Result<Target> parse_target(const std::string& url) {
  const std::string scheme = "http://";
  if (!url.starts_with(scheme))
    return Error(Errc::invalid_argument, "--url " + url + ": expected http://HOST:PORT");
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  Target t;
  t.host = rest.substr(0, colon);
  in_addr parsed{};
  if (colon == std::string::npos || inet_pton(AF_INET, t.host.c_str(), &parsed) != 1)
    return Error(Errc::invalid_argument,
                 "--url " + url + ": expected http://IPV4:PORT (e.g. http://127.0.0.1:8480)");
  char* end = nullptr;
  unsigned long port = std::strtoul(rest.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port == 0 || port > 65535)
    return Error(Errc::invalid_argument, "--url " + url + ": the port is 1 to 65535");
  t.port = static_cast<uint16_t>(port);
  return t;
}

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 * kMs + ts.tv_nsec;
}

Result<DriverStats> drive(const std::vector<Target>& targets, unsigned connections,
                          Workload& workload) {
  if (targets.empty() || connections == 0)
    return Error(Errc::invalid_argument, "give at least one URL and one connection");
  Loop loop(targets, connections, workload);
  return loop.run();
}

}  // namespace ef::fleet::load
