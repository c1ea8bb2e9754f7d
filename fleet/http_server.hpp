// The fleet API served over HTTP(S) with GNU libmicrohttpd (Debian's
// libmicrohttpd12): a pool of threads on epoll, each connection bounded in
// time (a client that stalls mid-request is dropped: slow-loris) and memory,
// and request bodies bounded before they are read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fleet/api.hpp"
#include "util/error.hpp"

namespace ef::fleet {

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 address; 0.0.0.0 for all
  uint16_t port = 8480;            // 0: any free port (see HttpServer::port)
  unsigned threads = 4;
  unsigned connection_timeout_seconds = 15;  // idle or stalled connections are closed
  unsigned max_connections = 4096;
  std::string tls_cert_pem, tls_key_pem;  // both set: HTTPS only
};

class HttpServer {
 public:
  /// Starts serving `api` (which must outlive the server).
  static Result<std::unique_ptr<HttpServer>> start(Api& api, const ServerOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  HttpServer() = default;
  struct Daemon;
  std::unique_ptr<Daemon> daemon_;
  uint16_t port_ = 0;
};

}  // namespace ef::fleet
