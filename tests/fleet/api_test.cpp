// The fleet API's rules, request by request: registration, approval, signed
// reports (forged, replayed, for another device, malformed, oversized), the
// operator's endpoints, and a database that goes away and comes back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "device/fleet_request.hpp"
#include "fleet/api.hpp"
#include "signing/bundle_format.hpp"
#include "signing/keys.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;
constexpr UnixSeconds kNow = 1796000000;
const std::string kOperator = "operator-secret";

struct FakeDevice {
  std::string id;
  signing::SigningKey key;
  int64_t seq = 0;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { open((tmp / "fleet.sqlite").string()); }
  void open(const std::string& url) {
    auto d = open_database(url);
    ASSERT_TRUE(d) << d.error().message();
    db = std::move(*d);
    registry = std::make_unique<Registry>(*db);
    ApiConfig config;
    config.operators = {{"ops", sha256_hex(kOperator)}};
    api = std::make_unique<Api>(*registry, config);
  }

  ApiResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                   std::map<std::string, std::string> headers = {}) {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.headers = std::move(headers);
    if (!body.empty() && !r.headers.count("content-type"))
      r.headers["content-type"] = "application/json";
    r.now = kNow;
    return api->handle(r);
  }
  ApiResponse as_operator(const std::string& method, const std::string& path,
                          const std::string& body = "") {
    return call(method, path, body, {{"authorization", "Bearer " + kOperator}});
  }
  json parse(const ApiResponse& r) { return json::parse(r.body); }

  FakeDevice device(const std::string& id) {
    auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
    EXPECT_TRUE(k);
    return {id, std::move(*k), 0};
  }
  ApiResponse enroll(FakeDevice& d, const std::string& token) {
    return call(
        "POST", "/api/v1/register",
        json{{"deviceId", d.id}, {"publicKey", d.key.public_key().pem()}, {"token", token}}.dump());
  }
  std::string token(bool auto_approve = false) {
    auto r = as_operator("POST", "/api/v1/tokens", json{{"autoApprove", auto_approve}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return parse(r)["token"];
  }
  /// A report signed by `signer` as device `d` (seq advanced).
  std::map<std::string, std::string> signed_headers(FakeDevice& d, const std::string& path,
                                                    const std::string& body,
                                                    const signing::SigningKey* signer = nullptr,
                                                    int64_t seq = -1) {
    if (seq < 0) seq = ++d.seq;
    auto sig = (signer ? signer : &d.key)
                   ->sign(device::fleet_request_message("POST", path, d.id, seq, kNow, body));
    EXPECT_TRUE(sig);
    return {{"content-type", "application/json"},
            {"x-edgeforge-device", d.id},
            {"x-edgeforge-seq", std::to_string(seq)},
            {"x-edgeforge-time", std::to_string(kNow)},
            {"x-edgeforge-signature", signing::base64_encode(*sig)}};
  }
  ApiResponse report(FakeDevice& d, const std::string& body,
                     const signing::SigningKey* signer = nullptr, int64_t seq = -1) {
    std::string path = "/api/v1/devices/" + d.id + "/reports";
    return call("POST", path, body, signed_headers(d, path, body, signer, seq));
  }

  test::TempDir tmp;
  std::unique_ptr<Database> db;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<Api> api;
};

TEST_F(ApiTest, ADeviceRegistersIsApprovedAndItsReportsShowUp) {
  FakeDevice nuc = device("nuc-0001");
  auto r = enroll(nuc, token());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r)["state"], "unpaired");
  // Not yet approved: the report is refused, and its number not used up.
  r = report(nuc, R"({"booted":"A"})");
  EXPECT_EQ(r.status, 403) << r.body;
  r = as_operator("POST", "/api/v1/devices/nuc-0001/approve");
  ASSERT_EQ(r.status, 200) << r.body;
  r = report(nuc, R"({"booted":"A","slots":{"A":{"version":"1.0.0"}}})");
  ASSERT_EQ(r.status, 200) << r.body;

  r = as_operator("GET", "/api/v1/devices/nuc-0001");
  ASSERT_EQ(r.status, 200) << r.body;
  json d = parse(r);
  EXPECT_EQ(d["state"], "ready");
  EXPECT_EQ(d["lastSeq"], 2);
  EXPECT_EQ(d["status"]["slots"]["A"]["version"], "1.0.0");
  EXPECT_EQ(d["lastReport"], format_utc(kNow));
  r = as_operator("GET", "/api/v1/devices");
  EXPECT_EQ(parse(r)["devices"].size(), 1u);
  // A path that is not UTF-8 (quoted in the answer) is a 404, not a crash
  // of the service (found by the fleet_api fuzz target).
  r = as_operator("GET", "/api/v1/devices/caf\xe9");
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(json::parse(r.body, nullptr, false).is_discarded()) << r.body;
  EXPECT_EQ(call("GET", "/api/vts/\xe1tus").status, 404);
  // Its reports, for operators only (the device route takes POSTs).
  r = as_operator("GET", "/api/v1/devices/nuc-0001/reports");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(parse(r)["reports"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/devices/nuc-0001/reports").status, 401);

  // Pre-provisioned devices are ready when they register.
  r = as_operator("POST", "/api/v1/import", R"({"devices":["nuc-0002","nuc-0001"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r)["imported"], 1);
  EXPECT_EQ(parse(r)["known"], 1);
  FakeDevice second = device("nuc-0002");
  EXPECT_EQ(parse(enroll(second, token()))["state"], "ready");
  EXPECT_EQ(report(second, "{}").status, 200);
}

TEST_F(ApiTest, ForgedReplayedAndForeignReportsAreRefusedAndChangeNothing) {
  std::string t = token(/*auto_approve=*/true);
  FakeDevice a = device("nuc-a"), b = device("nuc-b");
  ASSERT_EQ(enroll(a, t).status, 200);
  ASSERT_EQ(enroll(b, t).status, 200);
  ASSERT_EQ(report(a, R"({"v":1})").status, 200);

  struct Case {
    std::string name;
    ApiResponse response;
    int status;
    std::string says;
  };
  std::string path_a = "/api/v1/devices/nuc-a/reports";
  auto headers = signed_headers(a, path_a, R"({"v":2})");
  auto tampered = headers;
  std::vector<Case> cases;
  cases.push_back({"signed by b's key as a", report(a, R"({"v":9})", &b.key), 401, "signature"});
  cases.push_back({"a replayed report", report(a, R"({"v":1})", nullptr, 1), 409, "not after"});
  cases.push_back({"b reporting for a",
                   [&] {
                     auto h = signed_headers(b, path_a, R"({"v":9})");
                     return call("POST", path_a, R"({"v":9})", h);
                   }(),
                   403, "only for itself"});
  cases.push_back({"a body changed after signing", call("POST", path_a, R"({"v":3})", headers), 401,
                   "signature"});
  tampered["x-edgeforge-seq"] = "99";
  cases.push_back({"a sequence number changed after signing",
                   call("POST", path_a, R"({"v":2})", tampered), 401, "signature"});
  FakeDevice ghost = device("ghost");
  cases.push_back({"an unknown device", report(ghost, "{}"), 401, "signature"});
  cases.push_back({"no signature",
                   call("POST", path_a, "{}",
                        {{"content-type", "application/json"}, {"x-edgeforge-device", "nuc-a"}}),
                   401, "X-Edgeforge-Seq"});
  auto garbage = signed_headers(a, path_a, "{}");
  garbage["x-edgeforge-signature"] = "***";
  cases.push_back(
      {"a signature that is not base64", call("POST", path_a, "{}", garbage), 401, "base64"});
  auto text = signed_headers(a, path_a, "hello");
  text["content-type"] = "text/plain";
  cases.push_back(
      {"a body of another type", call("POST", path_a, "hello", text), 415, "application/json"});
  cases.push_back({"malformed JSON", report(a, "{\"v\":"), 400, "not a JSON object"});
  cases.push_back({"an oversized body", report(a, std::string(70 * 1024, ' ')), 413, "over"});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.response.status, c.status) << c.response.body;
    std::string message = json::parse(c.response.body)["error"]["message"];
    EXPECT_NE(message.find(c.says), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  auto d = registry->device("nuc-a");
  EXPECT_EQ((*d)->status, R"({"v":1})") << "nothing above was taken";
  EXPECT_EQ((*d)->last_seq, 1);
}

TEST_F(ApiTest, OperatorEndpointsNeedTheOperatorsTokenNotADevicesSignature) {
  std::string t = token(true);
  FakeDevice a = device("nuc-a");
  ASSERT_EQ(enroll(a, t).status, 200);
  auto h = signed_headers(a, "/api/v1/devices", "");
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/devices"},
                                                        {"GET", "/api/v1/devices/nuc-a"},
                                                        {"POST", "/api/v1/devices/nuc-a/approve"},
                                                        {"POST", "/api/v1/tokens"},
                                                        {"POST", "/api/v1/import"}}) {
    SCOPED_TRACE(method + " " + path);
    EXPECT_EQ(call(method, path, "", h).status, 401);
    EXPECT_EQ(call(method, path, "", {{"authorization", "Bearer wrong"}}).status, 401);
  }
  EXPECT_EQ(as_operator("GET", "/api/v1/devices/nobody").status, 404);
  EXPECT_EQ(as_operator("POST", "/api/v1/devices/nobody/approve").status, 404);
  EXPECT_EQ(as_operator("POST", "/api/v1/tokens", R"({"lifetimeSeconds":-1})").status, 400);
  EXPECT_EQ(as_operator("POST", "/api/v1/import", R"({"devices":["../x"]})").status, 400);
  EXPECT_EQ(as_operator("GET", "/api/v2/devices").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/register").status, 405);
  auto bad = call("POST", "/api/v1/register", R"({"deviceId":"x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(
      call("POST", "/api/v1/register",
           json{{"deviceId", "x"}, {"publicKey", a.key.public_key().pem()}, {"token", "no"}}.dump())
          .status,
      403);
}

TEST_F(ApiTest, ADatabaseThatGoesAwayIsA503AndNothingAcceptedIsLost) {
  test::Postgres pg(tmp / "pg");
  ASSERT_TRUE(pg.ok()) << pg.log();
  open(pg.url());
  FakeDevice a = device("nuc-a");
  ASSERT_EQ(enroll(a, token(true)).status, 200);
  ASSERT_EQ(report(a, R"({"n":1})").status, 200);

  ASSERT_TRUE(pg.stop());
  auto down = report(a, R"({"n":2})");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.headers["Retry-After"], "5");
  EXPECT_EQ(call("GET", "/api/v1/health").status, 503);

  ASSERT_TRUE(pg.start()) << pg.log();
  // The device sends the same report again (its queue kept it): taken now.
  auto again = report(a, R"({"n":2})", nullptr, a.seq);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(call("GET", "/api/v1/health").status, 200);
  auto d = registry->device("nuc-a");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->status, R"({"n":2})");
  auto count = db->query("SELECT COUNT(*) FROM reports");
  ASSERT_TRUE(count);
  EXPECT_EQ((*count)[0].integer(0), 2);
}

// The service verifies a known device's report with the key it read for
// it before and takes it in a statement that checks the key is still the
// registered one. A device removed and registered again with a new key (on
// another instance, say) is then checked against its new key at once.
TEST_F(ApiTest, AReportIsVerifiedWithTheKeyRegisteredWhenItIsTaken) {
  test::Postgres pg(tmp / "pg");
  ASSERT_TRUE(pg.ok()) << pg.log();
  for (const std::string& url : {(tmp / "keys.sqlite").string(), pg.url()}) {
    SCOPED_TRACE(url);
    open(url);
    FakeDevice nuc = device("nuc-7");
    ASSERT_EQ(enroll(nuc, token(true)).status, 200);
    ASSERT_EQ(report(nuc, R"({"n":1})").status, 200);
    ASSERT_EQ(report(nuc, R"({"n":2})").status, 200);
    auto replay = report(nuc, R"({"n":2})", nullptr, nuc.seq);
    EXPECT_EQ(replay.status, 409) << replay.body;

    // Removed and registered again with another key, behind this API's back.
    FakeDevice renewed = device("nuc-7");
    renewed.seq = nuc.seq;
    ASSERT_TRUE(db->query("UPDATE devices SET public_key = $2 WHERE id = $1",
                          {std::string("nuc-7"), renewed.key.public_key().pem()}));
    auto old_key = report(nuc, R"({"n":3})");
    EXPECT_EQ(old_key.status, 401) << old_key.body;
    auto d = registry->device("nuc-7");
    ASSERT_TRUE(d && *d);
    EXPECT_EQ((*d)->status, R"({"n":2})");
    EXPECT_EQ((*d)->last_seq, 2);
    renewed.seq = nuc.seq;
    auto new_key = report(renewed, R"({"n":4})");
    EXPECT_EQ(new_key.status, 200) << new_key.body;
    // And back: the old key is refused however often it tries.
    EXPECT_EQ(report(nuc, R"({"n":5})").status, 401);
    EXPECT_EQ(report(renewed, R"({"n":6})").status, 200);
  }
}

}  // namespace
}  // namespace ef::fleet
