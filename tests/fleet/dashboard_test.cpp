// The dashboard request by request, without a server or a browser (the
// browser's test is dashboard_browser_test.cpp): who gets in, what the pages
// show of the database, that device values are escaped, that forms need the
// session's CSRF token, and bad input (forms, cookies, paths).
#include "fleet/dashboard.hpp"

#include <gtest/gtest.h>

#include "tests/fleet/fleet_data.hpp"
#include "tests/fleet/recording_rollouts.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;
constexpr UnixSeconds kNow = 1796000000;
const std::string kToken = "dashboard-operator-token";
const std::string kEvil = R"(<script>alert("x")</script><img src=x onerror=alert(1)> & no space)";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = open_database((tmp / "fleet.sqlite").string());
    ASSERT_TRUE(d) << d.error().message();
    db = std::move(*d);
    registry = std::make_unique<Registry>(*db);
    test::FleetData data(*registry, kNow);
    data.add("dev-1",
             test::agent_report("1.1.0", "stable", "1.1.0", "canary", "nothing", "up-to-date",
                                {{"region", "eu"}}),
             600, 2);
    data.add("dev-2",
             test::agent_report("1.1.0", "stable", "1.1.0", "canary", "nothing", "up-to-date",
                                {{"region", "eu"}}),
             600);
    data.add("dev-3",
             test::agent_report("1.0.0", "stable", "1.1.0", "canary", "wait", "wave",
                                {{"region", "us"}}),
             600);
    data.add("dev-4", test::failed_report("1.0.0", "stable", "1.1.0", "early", kEvil), 600);
    data.add("dev-5");                       // registered, never reported: silent
    data.add("dev-6", /*registers=*/false);  // imported only
    make_api(config());
  }
  ApiConfig config() {
    ApiConfig c;
    c.operators = {{"ops", sha256_hex(kToken), ""}};
    c.session_secret = std::string(32, 'k');
    return c;
  }
  void make_api(ApiConfig c, bool with_rollouts = true) {
    api = std::make_unique<Api>(*registry, std::move(c), with_rollouts ? &rollouts : nullptr);
  }

  ApiResponse call(const std::string& method, const std::string& path, const std::string& body,
                   std::map<std::string, std::string> headers, UnixSeconds now = kNow) {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.headers = std::move(headers);
    r.now = now;
    return api->handle(r);
  }
  ApiResponse get(const std::string& path, const std::string& cookie = "", UnixSeconds now = kNow) {
    std::map<std::string, std::string> h;
    if (!cookie.empty()) h["cookie"] = cookie;
    return call("GET", path, "", h, now);
  }
  ApiResponse post(const std::string& path, const std::string& form, const std::string& cookie = "",
                   std::map<std::string, std::string> h = {}) {
    h.emplace("content-type", "application/x-www-form-urlencoded");
    if (!cookie.empty()) h["cookie"] = cookie;
    return call("POST", path, form, h);
  }
  /// Logs in with the token; returns the Cookie header a browser sends back.
  std::string log_in() {
    auto r = post("/login", "operator=&secret=" + kToken);
    EXPECT_EQ(r.status, 303) << r.body;
    std::string set = r.headers["Set-Cookie"];
    return set.substr(0, set.find(';'));
  }
  /// The CSRF token in a page's forms.
  static std::string csrf(const std::string& page) {
    const std::string marker = R"(name="csrf" value=")";
    size_t at = page.find(marker);
    if (at == std::string::npos) return "";
    at += marker.size();
    return page.substr(at, page.find('"', at) - at);
  }
  static bool has(const ApiResponse& r, const std::string& text) {
    return r.body.find(text) != std::string::npos;
  }

  test::TempDir tmp;
  std::unique_ptr<Database> db;
  std::unique_ptr<Registry> registry;
  test::RecordingRollouts rollouts{{"stable", "beta"}};
  std::unique_ptr<Api> api;
};

TEST_F(DashboardTest, WithoutASessionEveryPageIsTheLogIn) {
  const std::map<std::string, std::string> device_signed = {
      {"x-edgeforge-device", "dev-1"},
      {"x-edgeforge-seq", "9"},
      {"x-edgeforge-time", std::to_string(kNow)},
      {"x-edgeforge-signature", "AAAA"}};
  for (const char* path : {"/", "/devices", "/devices/dev-1", "/no/such/page", "/logout"}) {
    SCOPED_TRACE(path);
    auto r = get(path);
    EXPECT_EQ(r.status, 303);
    EXPECT_EQ(r.headers["Location"], "/login");
    EXPECT_EQ(call("GET", path, "", device_signed).status, 303) << "a device's signature";
    EXPECT_EQ(call("GET", path, "", {{"authorization", "Bearer " + kToken}}).status, 303)
        << "an API token is not a session";
  }
  EXPECT_EQ(post("/channels/stable/pause", "csrf=x").status, 303);
  EXPECT_TRUE(rollouts.calls().empty());
  // And the session cookie opens no API call: the API takes tokens only.
  EXPECT_EQ(get("/api/v1/devices", log_in()).status, 401);
}

TEST_F(DashboardTest, LogInWithAWrongSecretFailsAndWithTheTokenSetsAStrictCookie) {
  auto form = get("/login");
  EXPECT_EQ(form.status, 200);
  EXPECT_EQ(form.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(has(form, R"(<form method="post" action="/login">)"));
  EXPECT_NE(form.headers["Content-Security-Policy"].find("default-src 'none'"), std::string::npos);

  auto wrong = post("/login", "operator=ops&secret=not-the-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(has(wrong, "Wrong operator, token or password."));
  EXPECT_EQ(wrong.headers.count("Set-Cookie"), 0u);

  auto ok = post("/login", "operator=ops&secret=" + kToken);
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(ok.headers["Location"], "/");
  const std::string set = ok.headers["Set-Cookie"];
  EXPECT_TRUE(set.starts_with("ef_session=v1.")) << set;
  EXPECT_NE(set.find("; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"), std::string::npos)
      << set;
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "served over plain HTTP";
  EXPECT_EQ(get("/", set.substr(0, set.find(';'))).status, 200);

  ApiConfig tls = config();
  tls.secure_cookies = true;
  make_api(tls);
  const std::string secure = post("/login", "secret=" + kToken).headers["Set-Cookie"];
  EXPECT_TRUE(secure.starts_with("__Host-ef_session=v1.")) << secure;
  EXPECT_TRUE(secure.ends_with("; Secure")) << secure;
}

TEST_F(DashboardTest, ExpiredForgedAndForeignCookiesGoBackToTheLogIn) {
  const std::string cookie = log_in();
  EXPECT_EQ(get("/", cookie, kNow + 12 * 3600 - 1).status, 200);
  EXPECT_EQ(get("/", cookie, kNow + 12 * 3600).status, 303) << "expired";
  std::string forged = cookie;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(get("/", forged).status, 303);
  EXPECT_EQ(get("/", "ef_session=v1.6f7073.9999999999.00.00").status, 303);
  EXPECT_EQ(get("/", "ef_session=").status, 303);
  EXPECT_EQ(get("/", "other=1; " + cookie + "; more=2").status, 200) << "among other cookies";
  ApiConfig other = config();
  other.session_secret = std::string(32, 'z');
  make_api(other);
  EXPECT_EQ(get("/", cookie).status, 303) << "made with another service's secret";
}

TEST_F(DashboardTest, TheFleetPageShowsTheCountsOfTheDatabase) {
  auto r = get("/", log_in());
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& [metric, n] : std::map<std::string, int>{{"devices", 6},
                                                            {"state.ready", 5},
                                                            {"state.provisioned", 1},
                                                            {"state.unpaired", 0},
                                                            {"phase.updated", 2},
                                                            {"phase.pending", 1},
                                                            {"phase.failed", 1},
                                                            {"phase.unknown", 1},
                                                            {"silent", 1}})
    EXPECT_TRUE(has(r, "data-metric=\"" + metric + "\">" + std::to_string(n) + "<")) << metric;
  EXPECT_TRUE(has(r, R"(<tr class="wave" data-channel="stable" data-release="1.1.0" )"
                     R"(data-wave="canary"><td>canary</td><td class="n" data-count="devices">3<)"));
  EXPECT_TRUE(has(r, R"(<td class="n" data-count="updated">2</td><td class="n" )"
                     R"(data-count="updating">0</td><td class="n" data-count="pending">1</td>)"));
  EXPECT_TRUE(has(r, R"(<span class="seg-updated" style="width:66.67%" title="2 updated">)"));
  EXPECT_TRUE(has(r, R"(<span class="tag">1.1.0 ×2</span><span class="tag">1.0.0 ×1</span>)"));
  // The failing device with its error (escaped), the silent one, the channels.
  EXPECT_TRUE(has(r, R"(<tr data-device="dev-4"><td><a href="/devices/dev-4">dev-4</a>)"));
  EXPECT_TRUE(has(r, R"(<tr data-device="dev-5"><td><a href="/devices/dev-5">dev-5</a>)"));
  EXPECT_TRUE(has(r, R"(<tr data-channel="stable" data-state="rolling">)"));
  EXPECT_TRUE(has(r, R"(<form class="inline" method="post" action="/channels/beta/pause">)"));
  EXPECT_TRUE(has(r, R"(<span class="tag">region=eu</span></td><td class="n">2</td>)"));
}

TEST_F(DashboardTest, DeviceValuesAreEscapedEverywhere) {
  const std::string cookie = log_in();
  for (const char* path : {"/", "/devices", "/devices/dev-4"}) {
    SCOPED_TRACE(path);
    auto r = get(path, cookie);
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(has(r, "<script")) << "no script element, ever";
    EXPECT_FALSE(has(r, "<img")) << "no injected element";
    EXPECT_TRUE(has(r,
                    "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x "
                    "onerror=alert(1)&gt; &amp; no space"));
  }
  // Channel names and reasons from the rollout side are escaped too.
  test::RecordingRollouts odd({R"(we"ird<b>)"});
  ASSERT_TRUE(odd.pause(R"(we"ird<b>)", "ops", "<i>why</i>", kNow));
  api = std::make_unique<Api>(*registry, config(), &odd);
  auto r = get("/", log_in());
  EXPECT_TRUE(has(r, R"(<tr data-channel="we&quot;ird&lt;b&gt;" data-state="paused">)"));
  EXPECT_TRUE(has(r, R"(action="/channels/we%22ird%3Cb%3E/resume")"));
  EXPECT_TRUE(has(r, "&lt;i&gt;why&lt;/i&gt;"));
  EXPECT_FALSE(has(r, "<i>why"));
}

TEST_F(DashboardTest, ADevicePageShowsItsPlacementErrorAndReports) {
  const std::string cookie = log_in();
  auto r = get("/devices/dev-1", cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(has(r, R"(<dd id="device-phase">updated</dd>)"));
  EXPECT_TRUE(has(r, R"(<h2>Last reports <span class="muted">(3)</span></h2>)"));
  EXPECT_TRUE(has(r, R"(<span class="tag">A*: 1.1.0</span><span class="tag">B: 0.9.0</span>)"));
  EXPECT_TRUE(has(r, "nothing (up-to-date)"));
  r = get("/devices/dev-4", cookie);
  EXPECT_TRUE(has(r, R"(<dd id="device-phase">failed</dd>)"));
  EXPECT_TRUE(has(r, R"(<dd id="device-error" class="err">&lt;script&gt;)"));
  r = get("/devices/dev-6", cookie);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(has(r, R"(<dd id="device-state">provisioned</dd>)"));
  EXPECT_EQ(get("/devices/nobody", cookie).status, 404);
  EXPECT_EQ(get("/devices/..", cookie).status, 404);
  EXPECT_EQ(get("/devices/dev-1/more", cookie).status, 404);
  auto list = get("/devices", cookie);
  EXPECT_TRUE(has(list, "6 in all"));
}

TEST_F(DashboardTest, PauseAndResumeNeedTheSessionsCsrfToken) {
  const std::string cookie = log_in(), other = log_in();
  const std::string token = csrf(get("/", cookie).body);
  ASSERT_EQ(token.size(), 64u);
  EXPECT_EQ(post("/channels/stable/pause", "reason=x", cookie).status, 403) << "no token";
  EXPECT_EQ(post("/channels/stable/pause", "csrf=" + std::string(64, 'a'), cookie).status, 403);
  EXPECT_EQ(post("/channels/stable/pause", "csrf=" + csrf(get("/", other).body), cookie).status,
            403)
      << "another session's token";
  EXPECT_EQ(post("/channels/stable/pause", "csrf=" + token, cookie,
                 {{"origin", "http://evil.example"}, {"host", "fleet:8480"}})
                .status,
            403)
      << "a form from another site";
  EXPECT_TRUE(rollouts.calls().empty());

  auto paused = post("/channels/stable/pause", "csrf=" + token + "&reason=bad+canary%21", cookie,
                     {{"origin", "http://fleet:8480"}, {"host", "fleet:8480"}});
  EXPECT_EQ(paused.status, 303) << paused.body;
  EXPECT_EQ(paused.headers["Location"], "/");
  auto page = get("/", cookie);
  EXPECT_TRUE(has(page, R"(<tr data-channel="stable" data-state="paused">)"));
  EXPECT_TRUE(has(page, "bad canary!"));
  EXPECT_EQ(post("/channels/stable/resume", "csrf=" + token, cookie).status, 303);
  EXPECT_EQ(post("/channels/beta/pause", "csrf=" + token, cookie).status, 303);
  EXPECT_EQ(post("/channels/nope/pause", "csrf=" + token, cookie).status, 404);
  using Call = test::RecordingRollouts::Call;
  EXPECT_EQ(rollouts.calls(),
            (std::vector<Call>{{"pause", "stable", "ops", "bad canary!"},
                               {"resume", "stable", "ops", ""},
                               {"pause", "beta", "ops", "paused from the dashboard by ops"},
                               {"pause", "nope", "ops", "paused from the dashboard by ops"}}));
}

TEST_F(DashboardTest, WithoutRolloutsNoChannelIsListedAndNonePaused) {
  make_api(config(), /*with_rollouts=*/false);
  const std::string cookie = log_in();
  auto r = get("/", cookie);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(has(r, "This service watches no channel."));
  EXPECT_EQ(post("/channels/stable/pause", "csrf=" + csrf(r.body), cookie).status, 404);

  make_api(config());
  rollouts.fail_listing("stable: cannot read /srv/channels/stable/channel.json");
  r = get("/", log_in());
  EXPECT_EQ(r.status, 200) << "the counts are still shown";
  EXPECT_TRUE(has(r, "The channels cannot be listed: stable: cannot read"));
}

TEST_F(DashboardTest, BadFormsPathsAndMethodsGetTheirOwnAnswers) {
  const std::string cookie = log_in();
  const std::string token = csrf(get("/", cookie).body);
  EXPECT_EQ(post("/login", "secret=%zz").status, 400);
  EXPECT_EQ(post("/login", "secret=%4").status, 400);
  EXPECT_EQ(call("POST", "/login", "secret=" + kToken, {{"content-type", "text/plain"}}).status,
            400);
  EXPECT_EQ(
      call("POST", "/login", R"({"secret":"x"})", {{"content-type", "application/json"}}).status,
      400);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "f" + std::to_string(i) + "=1&";
  EXPECT_EQ(post("/channels/stable/pause", many + "csrf=" + token, cookie).status, 400);
  EXPECT_EQ(
      post("/channels/stable/pause", "csrf=" + token + "&reason=" + std::string(70000, 'a'), cookie)
          .status,
      413)
      << "over the body limit";
  EXPECT_EQ(post("/login", "operator=ops&&secret=" + kToken + "&=&x").status, 303)
      << "empty fields are skipped";
  auto missing = get("/no/such/page", cookie);
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(has(missing, "no page /no/such/page"));
  EXPECT_EQ(post("/no/such/form", "csrf=" + token, cookie).status, 404);
  EXPECT_EQ(call("DELETE", "/", "", {{"cookie", cookie}}).status, 405);
  EXPECT_EQ(call("PUT", "/login", "", {}).status, 405);
  EXPECT_TRUE(rollouts.calls().empty());
}

TEST_F(DashboardTest, LogOutNeedsTheTokenAndClearsTheCookie) {
  const std::string cookie = log_in();
  EXPECT_EQ(post("/logout", "", cookie).status, 403);
  auto out = post("/logout", "csrf=" + csrf(get("/", cookie).body), cookie);
  EXPECT_EQ(out.status, 303);
  EXPECT_EQ(out.headers["Location"], "/login");
  EXPECT_EQ(out.headers["Set-Cookie"], "ef_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

}  // namespace
}  // namespace ef::fleet
