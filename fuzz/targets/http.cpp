// What HTTP servers nobody trusts send to a device and to the publisher:
// status lines, headers (Content-Range, Location, ETag, WWW-Authenticate,
// Docker-Content-Digest) and bodies, as the bundle sources (ranged
// streams), the kept-alive client and the registry client (auth
// challenges, manifests, blobs, channel tags, bundle heads) take them.
//
// A server on 127.0.0.1 in this process answers each connection with the
// next canned response (input cut at "#@next#@", the last one repeated) and
// closes it. Every request stays on the loopback whatever a response
// redirects to: curl is pointed at that server as its proxy for every
// scheme. The first byte of the input picks the client call.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "channel/oci_channel.hpp"
#include "fuzz/support.hpp"
#include "signing/oci_store.hpp"
#include "util/http_client.hpp"
#include "util/http_stream.hpp"
#include "util/oci_registry.hpp"

namespace {

class CannedServer {
 public:
  CannedServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(fd_, 64) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ef::fuzz::invariant_failed("a loopback listening socket");
    port_ = ntohs(addr.sin_port);
    std::thread([this] { serve(); }).detach();
  }

  uint16_t port() const { return port_; }

  void set_responses(std::vector<std::string> responses) {
    std::lock_guard lock(mutex_);
    responses_ = std::move(responses);
    next_ = 0;
  }

 private:
  void serve() {
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval timeout{1, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      read_request(c);
      std::string response;
      {
        std::lock_guard lock(mutex_);
        if (!responses_.empty()) response = responses_[std::min(next_++, responses_.size() - 1)];
      }
      for (size_t sent = 0; sent < response.size();) {
        ssize_t n = send(c, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      shutdown(c, SHUT_RDWR);
      close(c);
    }
  }

  // Up to the blank line after the headers, and a body as long as
  // Content-Length says (uploads), so the client has sent everything.
  static void read_request(int c) {
    std::string request;
    char buf[4096];
    size_t body_needed = std::string::npos;
    for (;;) {
      if (body_needed == std::string::npos) {
        size_t end = request.find("\r\n\r\n");
        if (end != std::string::npos) {
          size_t length = 0;
          size_t at = request.find("Content-Length: ");
          if (at != std::string::npos && at < end)
            length = std::strtoul(request.c_str() + at + 16, nullptr, 10);
          body_needed = end + 4 + length;
        }
      }
      if (body_needed != std::string::npos && request.size() >= body_needed) return;
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> responses_;
  size_t next_ = 0;
};

CannedServer& server() {
  static CannedServer* s = [] {
    auto* created = new CannedServer;
    std::string proxy = "http://127.0.0.1:" + std::to_string(created->port());
    for (const char* name : {"http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"})
      setenv(name, proxy.c_str(), 1);
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    return created;
  }();
  return *s;
}

ef::HttpStreamOptions quick() {
  ef::HttpStreamOptions o;
  o.retries = 1;
  o.backoff = std::chrono::milliseconds(0);
  o.connect_timeout_seconds = 2;
  o.low_speed_seconds = 2;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  CannedServer& s = server();
  std::vector<std::string> responses;
  for (auto part : ef::fuzz::split_parts(ef::fuzz::as_view(data + 1, size - 1), "#@next#@", 4))
    responses.emplace_back(part);
  s.set_responses(std::move(responses));
  const std::string origin = "http://127.0.0.1:" + std::to_string(s.port());
  auto registry_ref =
      ef::parse_oci_reference("oci://127.0.0.1:" + std::to_string(s.port()) + "/edge/store:stable");
  EF_FUZZ_CHECK(static_cast<bool>(registry_ref));
  switch (data[0] % 6) {
    case 0: {  // a chunk or a payload range, as the agent streams it
      uint64_t offset = 5, length = 1 + data[0] / 6;
      std::string got;
      auto r = ef::http_stream(
          origin + "/store/x.efb", offset, length,
          [&](const char* p, size_t n) -> ef::Result<void> {
            got.append(p, n);
            return ef::Ok{};
          },
          [] {
            auto o = quick();
            o.same_origin_only = true;
            return o;
          }());
      ef::fuzz::trace("http_stream", r);
      if (r) EF_FUZZ_CHECK(got.size() == length);
      break;
    }
    case 1: {  // a chunk store's file
      ef::HttpClient client(quick());
      ef::HttpRequest request;
      request.url = origin + "/store/chunks/ab12/ab12.zst";
      request.max_bytes = 4096;
      auto r = client.send(request);
      ef::fuzz::trace("send", r);
      if (r) EF_FUZZ_CHECK(r->body.size() <= request.max_bytes);
      break;
    }
    case 2: {  // a tag's manifest, conditionally, with auth
      ef::OciRegistry registry(*registry_ref, {"edge", "secret"}, quick());
      ef::fuzz::trace("fetch_manifest", registry.fetch_manifest(
                                            "stable", "application/vnd.oci.image.manifest.v1+json",
                                            65536, "\"sha256:0\""));
      break;
    }
    case 3: {  // blobs
      ef::OciRegistry registry(*registry_ref, {}, quick());
      const std::string digest =
          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
      ef::fuzz::trace("has_blob", registry.has_blob(digest));
      ef::fuzz::trace("get_blob", registry.get_blob(digest, 65536));
      break;
    }
    case 4: {  // a channel kept in a registry
      ef::OciRegistry registry(*registry_ref, {}, quick());
      ef::fuzz::trace("read_oci_channel", ef::channel::read_oci_channel(registry, "stable"));
      break;
    }
    default: {  // a bundle head published to a registry
      ef::OciRegistry registry(*registry_ref, {}, quick());
      ef::fuzz::trace("fetch_oci_head", ef::signing::fetch_oci_head(registry, "1.2.0", 1 << 20));
      break;
    }
  }
  return 0;
}
