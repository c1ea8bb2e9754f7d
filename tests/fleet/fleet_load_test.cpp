// The fleet load generator (tests/fleet/load/): its latency histogram, and a
// short run against the real API served in-process, so the benchmark tool
// cannot rot between the runs of scripts/bench-fleet.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "fleet/http_server.hpp"
#include "fleet/placement.hpp"
#include "tests/fleet/load/fleet_load.hpp"
#include "tests/fleet/load/http_driver.hpp"
#include "tests/fleet/load/latency_histogram.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::fleet::load {
namespace {

using nlohmann::json;

TEST(LatencyHistogramTest, PercentilesAreWithinTheBucketWidth) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(99), 0u);
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 100000u);
  EXPECT_NEAR(h.mean(), 50000.5, 0.01);
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    const double exact = p * 1000;
    EXPECT_GE(static_cast<double>(h.percentile(p)), exact) << p;
    EXPECT_LE(static_cast<double>(h.percentile(p)), exact * (1 + 1.0 / 64)) << p;
  }
  EXPECT_EQ(h.percentile(100), 100000u);

  LatencyHistogram small, other;
  for (uint64_t v : {3, 3, 5, 120}) small.record(v);
  EXPECT_EQ(small.percentile(50), 3u);  // exact below 128 µs
  EXPECT_EQ(small.percentile(75), 5u);
  other.record(1u << 30);
  small.merge(other);
  EXPECT_EQ(small.count(), 5u);
  EXPECT_EQ(small.percentile(100), 1u << 30);
}

TEST(FleetLoadTest, UrlsAreHttpIpv4AndPort) {
  auto t = parse_target("http://127.0.0.1:8480");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->port, 8480);
  EXPECT_EQ(t->url(), "http://127.0.0.1:8480");
  for (const char* bad : {"127.0.0.1:8480", "http://localhost:8480", "http://127.0.0.1",
                          "https://127.0.0.1:443", "http://127.0.0.1:0"})
    EXPECT_FALSE(parse_target(bad)) << bad;
}

TEST(FleetLoadTest, ReportsAreTheAgentsDocumentOfOneToTwoKilobytes) {
  std::map<std::string, int> phases;
  for (unsigned i = 0; i < 20; ++i) {
    const std::string r = status_report(i, 1234);
    EXPECT_GE(r.size(), 1000u);
    EXPECT_LE(r.size(), 2048u);
    ASSERT_TRUE(json::parse(r, nullptr, false).is_object());
    ++phases[place_report(r).phase];
  }
  EXPECT_EQ(phases["updated"], 14);
  EXPECT_EQ(phases["pending"], 4);
  EXPECT_EQ(phases["failed"], 2);
}

TEST(FleetLoadTest, RegistersAndReportsAgainstTheService) {
  test::TempDir tmp;
  auto db = open_database((tmp / "fleet.sqlite").string());
  ASSERT_TRUE(db) << db.error().message();
  Registry registry(**db);
  ApiConfig config;
  config.operators = {{"ops", sha256_hex("operator-secret")}};
  Api api(registry, config);
  ServerOptions so;
  so.port = 0;
  so.threads = 2;
  auto server = HttpServer::start(api, so);
  ASSERT_TRUE(server) << server.error().message();
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());

  LoadOptions o;
  o.urls = {url, url};  // two "instances": the same one twice
  o.operator_token = "operator-secret";
  o.devices = 30;
  o.connections = 4;
  o.id_prefix = "smoke";
  o.service_pids = {::getpid()};
  o.sample_every = 50;
  o.runs = {{0, 0, 150, 0.1}, {400, 0.5, 0, 0}};
  std::vector<json> out;
  std::ostringstream log;
  auto done = run_load(
      o, [&](const json& j) { out.push_back(j); }, log);
  ASSERT_TRUE(done) << done.error().message() << "\n" << log.str();
  ASSERT_EQ(out.size(), 3u);

  EXPECT_EQ(out[0]["run"], "register");
  EXPECT_EQ(out[0]["registered"], 30);
  EXPECT_TRUE(out[0]["errors"].empty()) << out[0].dump();

  const json& max = out[1];
  EXPECT_EQ(max["mode"], "max");
  EXPECT_EQ(max["reports"], 150) << max.dump();
  EXPECT_TRUE(max["errors"].empty()) << max.dump();
  EXPECT_GT(max["reportsPerSecond"].get<double>(), 0);
  EXPECT_GT(max["latencyMs"]["p50"].get<double>(), 0);
  EXPECT_LE(max["latencyMs"]["p50"].get<double>(), max["latencyMs"]["p99"].get<double>());
  EXPECT_GT(max["bodyBytes"].get<double>(), 1000);
  EXPECT_GT(max["memoryEnd"]["rssKiB"][0].get<uint64_t>(), 0u);
  EXPECT_GE(max["memorySamples"].size(), 3u) << max.dump();
  EXPECT_EQ(max["urls"].size(), 2u);

  const json& rate = out[2];
  EXPECT_EQ(rate["mode"], "rate");
  EXPECT_TRUE(rate["errors"].empty()) << rate.dump();
  // Paced, never faster than asked (a busy machine may make it slower, so
  // there is no lower bound here: no timed assertions in tests).
  EXPECT_GT(rate["reports"].get<int64_t>(), 0) << rate.dump();
  EXPECT_LE(rate["reports"].get<double>(), 400 * rate["seconds"].get<double>() + o.connections + 1)
      << rate.dump();

  // Every report sent was taken, each device's in order (none refused as a
  // replay), and the newest is its status.
  auto stored = (*db)->query("SELECT COUNT(*), COUNT(DISTINCT device_id) FROM reports");
  ASSERT_TRUE(stored) << stored.error().message();
  EXPECT_GE((*stored)[0].integer(0), 150 + rate["reports"].get<int64_t>());
  EXPECT_EQ((*stored)[0].integer(1), 30);
  auto device = registry.device("smoke-00003");
  ASSERT_TRUE(device && *device);
  EXPECT_EQ((*device)->placement.phase, "updated");
  auto last = registry.reports("smoke-00003", 1);
  ASSERT_TRUE(last && !last->empty());
  EXPECT_EQ((*device)->last_seq, (*last)[0].seq);
}

}  // namespace
}  // namespace ef::fleet::load
