// The agent's side of the fleet service against the real service on
// 127.0.0.1 (in process): the device key, on-site registration and
// approval, pre-provisioned devices, reports queued while the service is
// away or the device is not yet approved and sent later oldest first, the
// bounded queue, and a device that lost its key.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "agent/fleet_client.hpp"
#include "agent/report.hpp"
#include "agent/status_report.hpp"
#include "fleet/http_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::agent {
namespace {

using nlohmann::json;

class AgentReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fleet::open_database((tmp / "fleet.sqlite").string());
    ASSERT_TRUE(d) << d.error().message();
    db = std::move(*d);
    registry = std::make_unique<fleet::Registry>(*db);
    api = std::make_unique<fleet::Api>(*registry, fleet::ApiConfig{});
    start();
    // A device: its journal under persist/agent, no ESP, a machine ID.
    paths.state = tmp / "persist/agent/state.json";
    paths.esp = tmp / "esp";
    paths.cmdline = tmp.write("cmdline", "BOOT_IMAGE=/A/vmlinuz edgeforge.slot=A\n");
    paths.registration = tmp / "etc/registration.yaml";
    ids.machine_id = tmp.write("machine-id", "0f3c9a5e12d44b7b8c2e1f00aa55cc01\n");
    ids.serial = tmp.write("serial", "NUC-SN-4711\n");
  }
  void start() {
    fleet::ServerOptions o;
    o.port = port;  // 0 the first time; the same port again after stop()
    o.threads = 2;
    auto s = fleet::HttpServer::start(*api, o);
    ASSERT_TRUE(s) << s.error().message();
    server = std::move(*s);
    port = server->port();
  }
  void stop() { server.reset(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
  void site(const std::string& token, const std::string& device_id = "machine-id") {
    tmp.write("etc/registration.yaml", "registration:\n  endpoint: \"" + endpoint() +
                                           "\"\n  token: \"" + token + "\"\n  deviceId: \"" +
                                           device_id + "\"\n");
  }
  /// The site registers with a token marked auto-approve: ready at once.
  void auto_approving_site() {
    fleet::TokenSpec auto_approve;
    auto_approve.auto_approve = true;
    auto token = registry->create_token(auto_approve, now_utc());
    ASSERT_TRUE(token);
    site(*token);
  }
  Result<std::optional<FlushResult>> report(const std::string& reason, UnixSeconds at = 0) {
    ReportOptions o;
    o.reason = reason;
    o.now = at;
    o.id_sources = ids;
    o.site = tmp.write("etc/site-updates.yaml", "tags: {store: \"42\", ring: canary}\n");
    o.http.retries = 0;
    o.http.connect_timeout_seconds = 2;
    return report_status(paths, o);
  }
  std::vector<std::string> reasons_taken(const std::string& device) {
    auto r = registry->reports(device, 100);
    EXPECT_TRUE(r) << r.error().message();
    std::vector<std::string> out;
    for (auto it = r->rbegin(); it != r->rend(); ++it)
      out.push_back(json::parse(it->body)["reason"].get<std::string>());
    return out;
  }

  test::TempDir tmp;
  std::unique_ptr<fleet::Database> db;
  std::unique_ptr<fleet::Registry> registry;
  std::unique_ptr<fleet::Api> api;
  std::unique_ptr<fleet::HttpServer> server;
  uint16_t port = 0;
  DevicePaths paths;
  DeviceIdSources ids;
  const std::string id = "0f3c9a5e12d44b7b8c2e1f00aa55cc01";
};

TEST_F(AgentReportTest, OnSiteDeviceKeepsItsReportsUntilApprovedThenSendsThemOldestFirst) {
  auto token = registry->create_token({}, now_utc());
  ASSERT_TRUE(token);
  site(*token);

  auto r = report("boot");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->state, "unpaired");
  EXPECT_EQ((*r)->sent, 0u);
  EXPECT_EQ((*r)->queued, 1u);
  EXPECT_NE((*r)->error.find("approves"), std::string::npos) << (*r)->error;
  auto d = registry->device(id);
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->state, fleet::DeviceState::unpaired);

  // The key: on the persistent partition, 0600, an Ed25519 PEM; the
  // service holds its public half.
  const auto key = tmp / "persist/agent/fleet/device.key";
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = signing::SigningKey::load(key.string());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->public_key().pem(), (*d)->public_key);

  ASSERT_TRUE(report("watch"));
  ASSERT_TRUE(registry->approve(id));
  r = report("heartbeat");
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->state, "ready");
  EXPECT_EQ((*r)->sent, 3u);
  EXPECT_EQ((*r)->queued, 0u);
  EXPECT_EQ((*r)->error, "");
  EXPECT_EQ(reasons_taken(id), (std::vector<std::string>{"boot", "watch", "heartbeat"}));

  // The current status is the newest report, and says what the device is.
  d = registry->device(id);
  json status = json::parse((*d)->status);
  EXPECT_EQ(status["reason"], "heartbeat");
  EXPECT_EQ(status["deviceId"], id);
  EXPECT_EQ(status["booted"], "A");
  EXPECT_TRUE(status.contains("slots")) << status.dump();
  EXPECT_TRUE(status.contains("uptimeSeconds"));
  EXPECT_EQ(status["droppedReports"], 0);
  EXPECT_EQ(status["tags"], (json{{"store", "42"}, {"ring", "canary"}}));
  EXPECT_EQ((*d)->placement.tags.at("ring"), "canary");
  EXPECT_EQ((*d)->placement.phase, "no-channel");
}

TEST_F(AgentReportTest, PreProvisionedSerialIsReadyAtOnce) {
  ASSERT_TRUE(registry->import_devices({"NUC-SN-4711"}, now_utc()));
  fleet::TokenSpec single;
  single.single_use = true;
  auto token = registry->create_token(single, now_utc());
  ASSERT_TRUE(token);
  site(*token, "serial");
  auto r = report("boot");
  ASSERT_TRUE(r && *r) << (r ? "" : r.error().message());
  EXPECT_EQ((*r)->state, "ready");
  EXPECT_EQ((*r)->sent, 1u);
  // The single-use token is spent, but this device and key stay registered;
  // with its sequence number lost, the device clock carries it on.
  std::filesystem::remove(tmp / "persist/agent/fleet/fleet.json");
  r = report("heartbeat", now_utc() + 10);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->state, "ready") << (*r)->error;
  EXPECT_EQ(reasons_taken("NUC-SN-4711"), (std::vector<std::string>{"boot", "heartbeat"}));
}

TEST_F(AgentReportTest, ReportsWaitWhileTheServiceIsAwayBoundedNewestKept) {
  ASSERT_NO_FATAL_FAILURE(auto_approving_site());
  ASSERT_TRUE(report("boot"));
  stop();
  for (int i = 0; i < 205; ++i) {
    auto r = report("offline-" + std::to_string(i));
    ASSERT_TRUE(r && *r);
    EXPECT_FALSE((*r)->error.empty());
  }
  // At most 200 wait; the oldest five went.
  auto left = ReportQueue(tmp / "persist/agent/fleet/queue").entries();
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 200u);
  EXPECT_EQ(json::parse(left->front().body)["reason"], "offline-5");
  start();
  auto r = report("back");
  ASSERT_TRUE(r && *r);
  // "back" made room for itself: the newest 200 went, oldest first.
  EXPECT_EQ((*r)->sent, 200u) << (*r)->error;
  auto taken = reasons_taken(id);
  ASSERT_EQ(taken.size(), 100u);  // reports() gives the newest 100
  EXPECT_EQ(taken.back(), "back");
  EXPECT_EQ(taken.front(), "offline-106");
  auto d = registry->device(id);
  // Each report counts the reports dropped before it was made.
  EXPECT_EQ(json::parse((*d)->status)["droppedReports"], 5);
}

// The heartbeat and a watch may report at the same moment: one client at a
// time, so no queue entry or sequence number is taken twice and no report
// is lost as a "replay".
TEST_F(AgentReportTest, TwoReportersAtOnceLoseNothing) {
  ASSERT_NO_FATAL_FAILURE(auto_approving_site());
  std::vector<std::thread> reporters;
  for (const char* reason : {"heartbeat", "watch"})
    reporters.emplace_back([&, reason] {
      for (int i = 0; i < 15; ++i) {
        auto r = report(reason);
        EXPECT_TRUE(r && *r && (*r)->error.empty()) << (r ? (*r)->error : r.error().message());
      }
    });
  for (auto& t : reporters) t.join();
  auto taken = registry->reports(id, 100);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->size(), 30u);

  // A client holds DIR/lock while it lives; another waits for it, or says
  // who holds it.
  FleetOptions o;
  o.dir = tmp / "persist/agent/fleet";
  o.registration.endpoint = endpoint();
  o.device_id = id;
  o.lock_wait_seconds = 0;
  auto first = FleetClient::open(o);
  ASSERT_TRUE(first) << first.error().message();
  auto second = FleetClient::open(o);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::refused);
  EXPECT_NE(second.error().message().find("another edgeforge-agent sending reports is running"),
            std::string::npos)
      << second.error().message();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    first = Error(Errc::io, "released");
  });
  o.lock_wait_seconds = 30;
  second = FleetClient::open(o);
  release.join();
  EXPECT_TRUE(second) << second.error().message();
}

TEST_F(AgentReportTest, ADeviceThatLostItsKeyIsRefusedNotConfused) {
  ASSERT_NO_FATAL_FAILURE(auto_approving_site());
  ASSERT_TRUE(report("boot"));
  std::filesystem::remove_all(tmp / "persist/agent/fleet");
  auto r = report("boot");
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->sent, 0u);
  EXPECT_NE((*r)->error.find("registered with another key"), std::string::npos) << (*r)->error;
  EXPECT_EQ(reasons_taken(id), (std::vector<std::string>{"boot"}));
}

TEST_F(AgentReportTest, NoRegistrationNoReportAndBadFilesSayWhere) {
  auto r = report("boot");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  tmp.write("etc/registration.yaml", "registration:\n  endpoint: ftp://x\n  token: t\n");
  r = report("boot");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("registration.yaml: registration.endpoint"), std::string::npos)
      << r.error().message();
  tmp.write("etc/registration.yaml", "registration:\n  endpoint: http://x\n  deviceId: mac\n");
  r = report("boot");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("registration.deviceId"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace ef::agent
