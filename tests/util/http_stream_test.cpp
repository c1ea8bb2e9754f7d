#include "util/http_stream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/http_server.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/static_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/http_client.hpp"

namespace ef {
namespace {

using test::HttpServer;

std::string body(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

HttpStreamOptions fast() {
  HttpStreamOptions o;
  o.backoff = std::chrono::milliseconds(1);
  return o;
}

Result<std::string> fetch(const std::string& url, uint64_t offset, uint64_t length,
                          HttpStreamOptions o = fast()) {
  std::string got;
  auto r = http_stream(
      url, offset, length,
      [&](const char* p, size_t n) -> Result<void> {
        got.append(p, n);
        return Ok{};
      },
      o);
  if (!r) return std::move(r).error();
  return got;
}

TEST(HttpStream, DeliversExactlyTheRangeAsked) {
  std::string b = body(300000);
  HttpServer server(b);
  EXPECT_EQ(*fetch(server.url(), 0, b.size()), b);
  EXPECT_EQ(*fetch(server.url(), 1000, 5000), b.substr(1000, 5000));
  EXPECT_EQ(*fetch(server.url(), 299990, 10), b.substr(299990));
  EXPECT_EQ(*fetch(server.url(), 5, 0), "");
}

TEST(HttpStream, ResumesFromTheNextUndeliveredByteAfterADrop) {
  std::string b = body(300000);
  HttpServer server(b);
  server.script({{HttpServer::Action::close_after, 70000},
                 {HttpServer::Action::close_after, 50000},
                 {HttpServer::Action::error_500, 0}});
  auto got = fetch(server.url(), 100, b.size() - 100);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, b.substr(100));
  auto ranges = server.ranges();
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[0], "bytes=100-");
  EXPECT_EQ(ranges[1], "bytes=70100-");  // 70000 body bytes delivered before the drop
  EXPECT_EQ(ranges[2], "bytes=120100-");
}

TEST(HttpStream, AServerIgnoringRangeHasItsLeadingBytesSkipped) {
  std::string b = body(100000);
  HttpServer server(b);
  server.script({{HttpServer::Action::close_after, 30000}, {HttpServer::Action::ignore_range, 0}});
  auto got = fetch(server.url(), 10000, 80000);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, b.substr(10000, 80000));
}

TEST(HttpStream, GivesUpWithOneLineNamingWhereItStopped) {
  HttpServer server(body(1000));
  server.script({{HttpServer::Action::error_404, 0}});
  auto got = fetch(server.url(), 0, 1000);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Errc::network);
  EXPECT_NE(got.error().message().find("stopped at byte 0 of 1000"), std::string::npos)
      << got.error().message();
  EXPECT_EQ(server.requests(), 1);  // a 404 is not retried

  HttpServer flaky(body(1000));
  flaky.script({{HttpServer::Action::error_500, 0},
                {HttpServer::Action::error_500, 0},
                {HttpServer::Action::error_500, 0}});
  HttpStreamOptions two = fast();
  two.retries = 2;
  got = fetch(flaky.url(), 0, 1000, two);
  ASSERT_FALSE(got);
  EXPECT_EQ(flaky.requests(), 3);
}

TEST(HttpStream, ASinkErrorStopsAtOnce) {
  HttpServer server(body(100000));
  int calls = 0;
  auto r = http_stream(
      server.url(), 0, 100000,
      [&](const char*, size_t) -> Result<void> {
        ++calls;
        return Error(Errc::io, "disk full");
      },
      fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "disk full");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(server.requests(), 1);
}

// A 206 that starts elsewhere than asked (a broken cache or proxy) would put
// its bytes at the wrong offsets: refused at once, not retried.
TEST(HttpStream, ARangeAnswerStartingElsewhereIsRefused) {
  std::string b = body(100000);
  HttpServer server(b);
  server.script({{HttpServer::Action::wrong_range, 0}});
  int delivered = 0;
  auto r = http_stream(
      server.url(), 1000, 5000,
      [&](const char*, size_t n) -> Result<void> {
        delivered += static_cast<int>(n);
        return Ok{};
      },
      fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(delivered, 0);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_NE(r.error().message().find(server.url() +
                                     ": answered a request for bytes 1000- with Content-Range "
                                     "\"bytes 0-99999/100000\""),
            std::string::npos)
      << r.error().message();
}

// HttpClient keeps one connection for many requests (a chunk store's many
// small files) although each request gets an easy handle of its own: a
// real HTTP/1.1 server (Debian's docker-registry) behind a relay that
// counts connections.
TEST(HttpClient, ManyRequestsShareOneKeptAliveConnection) {
  test::TempDir tmp;
  test::Registry registry(tmp / "registry");
  ASSERT_TRUE(registry.ok()) << registry.log();
  const std::string host = registry.host();
  test::CountingRelay relay(std::stoi(host.substr(host.rfind(':') + 1)), tmp / "relay.counts");
  {
    HttpClient client;
    HttpRequest request;
    request.url = relay.url("/v2/");
    for (int i = 0; i < 5; ++i) {
      auto r = client.send(request);
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status, 200);
    }
    EXPECT_EQ(client.requests(), 5);
  }
  test::CountingRelay::Counts c;
  for (int i = 0; i < 100 && (c = relay.counts()).connections < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(c.connections, 1);
}

TEST(HttpHeaders, ContentRangeIsParsedStrictly) {
  auto r = parse_content_range("bytes 5-9/100");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 5u);
  EXPECT_EQ(r->last, 9u);
  EXPECT_EQ(r->total, 100u);
  r = parse_content_range("bytes 0-18446744073709551614/*");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->total);
  for (const char* bad : {"", "bytes", "bytes 5-4/100", "bytes 5-9/9", "bytes -9/100",
                          "bytes 5-/100", "bytes 5-9", "bytes */100", "items 5-9/100",
                          "bytes 18446744073709551616-1/*", "bytes  5-9/100", "bytes 5-9/1x0"})
    EXPECT_FALSE(parse_content_range(bad)) << bad;
}

TEST(HttpHeaders, HeaderLinesAreSplitAndTrimmed) {
  auto h = parse_header_line("Content-Range:  bytes 1-2/3 \r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->first, "content-range");
  EXPECT_EQ(h->second, "bytes 1-2/3");
  EXPECT_FALSE(parse_header_line("HTTP/1.1 206 Partial Content\r\n"));
  EXPECT_FALSE(parse_header_line("\r\n"));
  EXPECT_FALSE(parse_header_line(": no name\r\n"));
  EXPECT_EQ(parse_header_line("X-Empty:\r\n")->second, "");
}

}  // namespace
}  // namespace ef
