#include "fleet/http_server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ef::fleet {
namespace {

/// What one request collects between libmicrohttpd's calls.
struct Pending {
  ApiRequest request;
  bool too_large = false;
};

MHD_Result send(MHD_Connection* connection, const ApiResponse& r) {
  MHD_Response* response = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", r.content_type.c_str());
  MHD_add_response_header(response, "Cache-Control", "no-store");
  for (const auto& [name, value] : r.headers)
    MHD_add_response_header(response, name.c_str(), value.c_str());
  MHD_Result ok = MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return ok;
}

MHD_Result collect_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name = key;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  (*headers)[name] = value ? value : "";
  return MHD_YES;
}

MHD_Result handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char* upload_data, size_t* upload_data_size, void** state) {
  Api& api = *static_cast<Api*>(cls);
  auto* pending = static_cast<Pending*>(*state);
  if (pending == nullptr) {
    pending = new Pending;
    *state = pending;
    pending->request.method = method;
    pending->request.path = url;
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header,
                              &pending->request.headers);
    // A body announced over the limit is refused before it is read.
    auto length = pending->request.headers.find("content-length");
    if (length != pending->request.headers.end() &&
        std::strtoull(length->second.c_str(), nullptr, 10) > api.config().max_body)
      pending->too_large = true;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    if (!pending->too_large) {
      if (pending->request.body.size() + *upload_data_size > api.config().max_body)
        pending->too_large = true;
      else
        pending->request.body.append(upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (pending->too_large) {
    ApiResponse r;
    r.status = 413;
    r.body = R"({"error":{"code":"too_large","message":"the body is over )" +
             std::to_string(api.config().max_body) + R"( bytes"}})";
    r.headers["Connection"] = "close";
    return send(connection, r);
  }
  pending->request.now = now_utc();
  return send(connection, api.handle(pending->request));
}

void completed(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
  delete static_cast<Pending*>(*state);
  *state = nullptr;
}

}  // namespace

struct HttpServer::Daemon {
  MHD_Daemon* daemon = nullptr;
  std::string cert, key;  // kept alive for libmicrohttpd
  ~Daemon() {
    if (daemon != nullptr) MHD_stop_daemon(daemon);
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(Api& api, const ServerOptions& o) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(o.port);
  if (inet_pton(AF_INET, o.host.c_str(), &address.sin_addr) != 1)
    return Error(Errc::invalid_argument,
                 "--listen " + o.host + ": give an IPv4 address (0.0.0.0 for all)");
  auto server = std::unique_ptr<HttpServer>(new HttpServer);
  server->daemon_ = std::make_unique<Daemon>();
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  const bool tls = !o.tls_cert_pem.empty() && !o.tls_key_pem.empty();
  if (tls) {
    flags |= MHD_USE_TLS;
    server->daemon_->cert = o.tls_cert_pem;
    server->daemon_->key = o.tls_key_pem;
  }
  MHD_OptionItem tls_options[] = {
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0,
       const_cast<char*>(server->daemon_->cert.c_str())},
      {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0,
       const_cast<char*>(server->daemon_->key.c_str())},
      {MHD_OPTION_END, 0, nullptr},
  };
  server->daemon_->daemon = MHD_start_daemon(
      flags, o.port, nullptr, nullptr, &handle, &api, MHD_OPTION_SOCK_ADDR, &address,
      MHD_OPTION_THREAD_POOL_SIZE, o.threads, MHD_OPTION_CONNECTION_TIMEOUT,
      o.connection_timeout_seconds, MHD_OPTION_CONNECTION_LIMIT, o.max_connections,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, &completed, nullptr, MHD_OPTION_ARRAY, tls_options,
      MHD_OPTION_END);
  if (server->daemon_->daemon == nullptr)
    return Error(Errc::io, "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                               (tls ? " with TLS (check the certificate and key)" : "") +
                               " (in use, or not an address of this machine)");
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(server->daemon_->daemon, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info ? info->port : o.port;
  return server;
}

HttpServer::~HttpServer() = default;

}  // namespace ef::fleet
