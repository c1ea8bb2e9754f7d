#include "tests/support/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>

namespace ef::test {
namespace {

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away; nothing to do
    data.remove_prefix(static_cast<size_t>(n));
  }
}

/// Reads up to the blank line that ends the request head.
std::string read_head(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  return head;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The value of the Range header, or "".
std::string range_header(const std::string& head) {
  std::string l = lower(head);
  size_t pos = l.find("\r\nrange:");
  if (pos == std::string::npos) return "";
  pos += 8;
  size_t end = head.find("\r\n", pos);
  std::string value = head.substr(pos, end - pos);
  value.erase(0, value.find_first_not_of(' '));
  return value;
}

/// The start offset of "bytes=N-", or -1.
long range_start(const std::string& range) {
  if (range.rfind("bytes=", 0) != 0) return -1;
  return std::strtol(range.c_str() + 6, nullptr, 10);
}

std::string status_response(int code, const char* reason) {
  std::string body = std::string(reason) + "\n";
  return "HTTP/1.1 " + std::to_string(code) + " " + reason +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

}  // namespace

HttpServer::HttpServer(std::string body) : body_(std::move(body)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(stop_pipe_, O_CLOEXEC) != 0)
    std::abort();
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { loop(); });
}

HttpServer::~HttpServer() {
  char c = 'x';
  (void)!::write(stop_pipe_[1], &c, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void HttpServer::script(std::vector<Step> steps) {
  std::lock_guard lock(mutex_);
  steps_.assign(steps.begin(), steps.end());
}

std::string refused_url(const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) ::close(fd);
  return "http://127.0.0.1:" + std::to_string(port == 0 ? 9 : port) + path;
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

int HttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(ranges_.size());
}

std::vector<std::string> HttpServer::ranges() const {
  std::lock_guard lock(mutex_);
  return ranges_;
}

void HttpServer::route(const std::string& path, std::string body) {
  std::lock_guard lock(mutex_);
  routes_[path] = std::move(body);
}

void HttpServer::route_status(const std::string& path, int status, std::string location) {
  std::lock_guard lock(mutex_);
  if (status == 0)
    statuses_.erase(path);
  else
    statuses_[path] = {status, std::move(location)};
}

std::vector<std::string> HttpServer::paths() const {
  std::lock_guard lock(mutex_);
  return paths_;
}

HttpServer::Step HttpServer::next_step() {
  std::lock_guard lock(mutex_);
  if (steps_.empty()) return {};
  Step step = steps_.front();
  steps_.pop_front();
  return step;
}

void HttpServer::loop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void HttpServer::handle(int fd) {
  std::string head = read_head(fd);
  std::string range = range_header(head);
  // "GET /path HTTP/1.1": the path is between the first two spaces.
  size_t sp1 = head.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
  std::string path = sp2 == std::string::npos ? "" : head.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string body_in = body_;
  bool routed = true;
  std::optional<std::pair<int, std::string>> status;
  {
    std::lock_guard lock(mutex_);
    ranges_.push_back(range);
    paths_.push_back(path);
    if (auto it = statuses_.find(path); it != statuses_.end()) status = it->second;
    if (!routes_.empty()) {
      auto it = routes_.find(path);
      routed = it != routes_.end();
      if (routed) body_in = it->second;
    }
  }
  if (status) {
    std::string out = "HTTP/1.1 " + std::to_string(status->first) + " Scripted\r\n";
    if (!status->second.empty()) out += "Location: " + status->second + "\r\n";
    return send_all(fd, out + "Content-Length: 0\r\nConnection: close\r\n\r\n");
  }
  Step step = next_step();
  if (step.action == Action::error_500) return send_all(fd, status_response(500, "Server Error"));
  if (step.action == Action::error_404 || !routed)
    return send_all(fd, status_response(404, "Not Found"));

  long start = step.action == Action::ignore_range ? -1 : range_start(range);
  size_t size = body_in.size();
  if (start >= 0 && static_cast<size_t>(start) >= size) {
    return send_all(fd, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                            std::to_string(size) + "\r\nContent-Length: 0\r\n\r\n");
  }
  std::string body = body_in;
  if (step.action == Action::wrong_bytes) {
    for (char& c : body) c = static_cast<char>(c ^ 0x5a);
  }
  std::string head_out;
  if (step.action == Action::wrong_range) {
    head_out = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-" +
               std::to_string(size - 1) + "/" + std::to_string(size) + "\r\n";
  } else if (start > 0) {
    body.erase(0, static_cast<size_t>(start));
    head_out = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(start) +
               "-" + std::to_string(size - 1) + "/" + std::to_string(size) + "\r\n";
  } else {
    head_out = "HTTP/1.1 200 OK\r\n";
  }
  head_out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  send_all(fd, head_out);
  if (step.action == Action::close_after) body.resize(std::min(body.size(), step.bytes));
  send_all(fd, body);
}

}  // namespace ef::test
