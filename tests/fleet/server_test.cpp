// The fleet API over real sockets: libmicrohttpd serving on 127.0.0.1, curl
// as the client, a client that stalls mid-request (slow loris) while others
// are served, bodies over the limit, and the edgeforge-fleet program itself.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "fleet/http_server.hpp"
#include "signing/keys.hpp"
#include "tests/fleet/fleet_program.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;
const std::string kOperator = "operator-secret";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = open_database((tmp / "fleet.sqlite").string());
    ASSERT_TRUE(d) << d.error().message();
    db = std::move(*d);
    registry = std::make_unique<Registry>(*db);
    ApiConfig config;
    config.operators = {{"ops", sha256_hex(kOperator)}};
    config.max_body = 8 * 1024;
    api = std::make_unique<Api>(*registry, config);
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.connection_timeout_seconds = 2;
    auto s = HttpServer::start(*api, o);
    ASSERT_TRUE(s) << s.error().message();
    server = std::move(*s);
    base = "http://127.0.0.1:" + std::to_string(server->port());
  }
  test::CommandOutput curl(const std::string& args) {
    return test::run_command("curl -s -m 20 -w '\\n%{http_code}' " + args + " 2>&1");
  }
  static int status_of(const test::CommandOutput& r) {
    return std::atoi(r.out.substr(r.out.rfind('\n') + 1).c_str());
  }

  test::TempDir tmp;
  std::unique_ptr<Database> db;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> server;
  std::string base;
};

TEST_F(ServerTest, ServesTheApiAndRefusesBodiesOverTheLimit) {
  auto r = curl("-X POST -H 'Authorization: Bearer " + kOperator +
                "' -H 'Content-Type: application/json' -d '{\"autoApprove\":true}' " + base +
                "/api/v1/tokens");
  ASSERT_EQ(status_of(r), 201) << r.out;
  std::string token = json::parse(r.out.substr(0, r.out.rfind('\n')))["token"];
  auto key = signing::SigningKey::generate(signing::Algorithm::ed25519);
  ASSERT_TRUE(key);
  tmp.write(
      "register.json",
      json{{"deviceId", "nuc-1"}, {"publicKey", key->public_key().pem()}, {"token", token}}.dump());
  r = curl("-X POST -H 'Content-Type: application/json' --data-binary @" +
           (tmp / "register.json").string() + " " + base + "/api/v1/register");
  EXPECT_EQ(status_of(r), 200) << r.out;
  EXPECT_NE(r.out.find("\"state\":\"ready\""), std::string::npos) << r.out;

  tmp.write("big.json", "{\"pad\":\"" + std::string(20000, 'x') + "\"}");
  r = curl("-X POST -H 'Content-Type: application/json' --data-binary @" +
           (tmp / "big.json").string() + " " + base + "/api/v1/register");
  EXPECT_EQ(status_of(r), 413) << r.out;
  // Chunked, so no Content-Length announces it: still refused, not read whole.
  r = curl(
      "-X POST -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' "
      "--data-binary @" +
      (tmp / "big.json").string() + " " + base + "/api/v1/register");
  EXPECT_EQ(status_of(r), 413) << r.out;
  EXPECT_EQ(status_of(curl(base + "/api/v1/devices")), 401);
  // Outside /api/ is the dashboard: without a session, its log-in.
  EXPECT_EQ(status_of(curl(base + "/")), 303);
  r = curl("-X POST -d 'secret=" + kOperator + "' " + base + "/login -D -");
  EXPECT_EQ(status_of(r), 303) << r.out;
  EXPECT_NE(r.out.find("Set-Cookie: ef_session=v1."), std::string::npos) << r.out;
}

TEST_F(ServerTest, AStalledClientIsDroppedWhileOthersAreServed) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server->port());
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const char* partial = "POST /api/v1/register HTTP/1.1\r\nHost: x\r\nContent-Le";
  ASSERT_GT(::send(fd, partial, std::strlen(partial), 0), 0);
  // Others are served while it stalls.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(status_of(curl(base + "/api/v1/health")), 200);
  // The stalled connection is closed by the server (bounded wait: 30 s).
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 30000), 1) << "the server never dropped the stalled client";
  char buf[256];
  EXPECT_LE(::recv(fd, buf, sizeof buf, 0), 0) << "closed without an answer";
  ::close(fd);
}

TEST(FleetProgramTest, ServesUntilSigtermAndBadSettingsAreOneLine) {
  test::TempDir tmp;
  tmp.write("fleet.yaml",
            "operators:\n  - {name: ops, tokenSha256: " + sha256_hex(kOperator) + "}\n");
  const std::string bin = EF_FLEET_BIN;
  test::FleetProgram service(tmp.path(), tmp / "f.sqlite", tmp / "fleet.yaml");
  const std::string out = service.output();
  ASSERT_NE(out.find("edgeforge-fleet: serving /api/v1/ on http://127.0.0.1:"), std::string::npos)
      << out;
  const std::string port = service.port();
  auto r = test::run_command("curl -s -H 'Authorization: Bearer " + kOperator +
                             "' http://127.0.0.1:" + port + "/api/v1/devices");
  EXPECT_EQ(r.out, "{\"devices\":[]}");
  int status = service.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  tmp.write("bad.yaml", "operators:\n  - {name: ops, tokenSha256: nothex}\n");
  struct Case {
    std::string args, says;
  };
  std::vector<Case> cases = {
      {"--config " + (tmp / "bad.yaml").string(), "bad.yaml:2:"},
      {"--config " + (tmp / "none.yaml").string(), "cannot read the configuration file"},
      {"--config " + (tmp / "fleet.yaml").string() + " --listen nowhere", "expected HOST:PORT"},
      {"--config " + (tmp / "fleet.yaml").string() + " --listen example.com:80",
       "give an IPv4 address"},
      {"--config " + (tmp / "fleet.yaml").string() + " --db /nonexistent/x.sqlite",
       "/nonexistent/x.sqlite"},
      {"--config " + (tmp / "fleet.yaml").string() + " --tls-cert x.pem", "--tls-key"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    // In the test's directory: a command that fails makes no database anywhere.
    auto run = test::run_command("cd " + tmp.path().string() + " && " + bin + " serve " + c.args +
                                 " 2>&1 >/dev/null");
    EXPECT_NE(run.status, 0);
    EXPECT_NE(run.out.find(c.says), std::string::npos) << run.out;
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << run.out;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp / "fleet.sqlite"));
}

}  // namespace
}  // namespace ef::fleet
