// The dashboard in a real browser: the service serves a fleet from SQLite
// on 127.0.0.1, and headless Chromium (Debian's), driven by playwright-core
// (tests/fleet/browser/dashboard.mjs), logs in, reads the fleet page, a
// device's page, pauses a channel and tries forms without the CSRF token.
// The script reports what it saw; this test checks it against the database
// and against what the rollout control was asked. It also leaves a
// screenshot of the fleet page and of a device's page in the build tree
// (fleet-dashboard.png, fleet-device.png; docs/fleet-dashboard.png is a copy).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fleet/http_server.hpp"
#include "fleet/rollup.hpp"
#include "tests/fleet/fleet_data.hpp"
#include "tests/fleet/recording_rollouts.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kToken = "b7e1c0d9-browser-operator-token";
const std::string kEvil = R"(<img src=x onerror=alert(document.cookie)><b id="injected">pwned</b>)";
const fs::path kScripts = fs::path(EF_SOURCE_DIR) / "tests/fleet/browser";

/// What is missing for this test, "" when nothing is.
std::string missing_tools() {
  if (!fs::exists("/usr/bin/chromium")) return "/usr/bin/chromium (apt-get install chromium)";
  if (!test::have_tool("node")) return "node (apt-get install nodejs)";
  // playwright-core 1.61 (package.json) needs Node.js 18 or later: Debian
  // 12's own nodejs is 18.
  if (test::run_command(
          "node -e 'process.exit(+process.versions.node.split(\".\")[0] >= 18 ? 0 : 1)'")
          .status != 0)
    return "Node.js 18 or later (node --version)";
  if (!fs::exists(kScripts / "node_modules/playwright-core/package.json"))
    return "playwright-core (npm ci --prefix tests/fleet/browser)";
  return "";
}

/// A fleet that looks like one: channel stable at 2.4.0 in three waves,
/// beta at 2.5.0-rc.1, failures, silent, unpaired and provisioned devices.
void fill_fleet(Registry& registry, UnixSeconds now) {
  test::FleetData data(registry, now);
  int store = 100;
  auto next = [&] { return "store-0" + std::to_string(++store); };
  auto tags = [](int i) { return json{{"region", i % 3 == 0 ? "us-east" : "eu-west"}}; };
  const std::string stable = "stable", old = "2.3.1", cur = "2.4.0";
  for (int i = 0; i < 5; ++i)
    data.add(next(),
             test::agent_report(cur, stable, cur, "canary", "nothing", "up-to-date", tags(i)),
             300 + i * 60, i == 0 ? 3 : 0);
  data.add(next(),
           test::failed_report(old, stable, cur, "canary",
                               "chunk 112: sha256 mismatch (expected 9f2c41e0…, got 00d1a7b3…)",
                               tags(5)),
           1800);
  for (int i = 0; i < 7; ++i)
    data.add(next(),
             test::agent_report(cur, stable, cur, "early", "nothing", "up-to-date", tags(i)),
             420 + i * 30);
  for (int i = 0; i < 2; ++i)
    data.add(next(), test::agent_report(old, stable, cur, "early", "staged", "reboot", tags(i)),
             200);
  for (int i = 0; i < 2; ++i)
    data.add(next(), test::agent_report(old, stable, cur, "early", "wait", "window", tags(i)), 900);
  data.add("store-0213", test::failed_report(old, stable, cur, "early", kEvil, tags(1)), 2400);
  for (int i = 0; i < 14; ++i)  // the last two have been silent for two days
    data.add(next(), test::agent_report(old, stable, cur, "rest", "wait", "wave", tags(i)),
             i < 12 ? 600 + i * 20 : 2 * 86400 + i * 600);
  const std::string rc = "2.5.0-rc.1";
  for (int i = 0; i < 2; ++i)
    data.add(
        "lab-0" + std::to_string(i + 1),
        test::agent_report(rc, "beta", rc, "canary", "nothing", "up-to-date", {{"region", "lab"}}),
        500);
  json rolled =
      test::agent_report(cur, "beta", rc, "canary", "nothing", "failed-here", {{"region", "lab"}});
  rolled["updates"]["failedReleases"] = {rc};
  rolled["lastOperation"] = {
      {"kind", "health"}, {"phase", "failed"}, {"error", "k3s not ready within 300 s"}};
  data.add("lab-03", rolled, 3600);
  auto key = signing::SigningKey::generate(signing::Algorithm::ed25519);
  auto token = registry.create_token({}, now);  // needs approval: stays unpaired
  ASSERT_TRUE(key && token);
  ASSERT_TRUE(registry.register_device("nuc-7f3a", key->public_key().pem(), *token, now - 7200));
  data.add("store-0301", /*registers=*/false);
  data.add("store-0302", /*registers=*/false);
}

TEST(DashboardBrowserTest, LogInCountsDeviceErrorPauseAndCsrfInChromium) {
  if (auto missing = missing_tools(); !missing.empty())
    GTEST_SKIP() << "no browser test without " << missing
                 << "; scripts/install-deps.sh installs it";
  test::TempDir tmp;
  auto db = open_database((tmp / "fleet.sqlite").string());
  ASSERT_TRUE(db) << db.error().message();
  Registry registry(**db);
  const UnixSeconds now = now_utc();
  fill_fleet(registry, now);
  if (HasFatalFailure()) return;

  ApiConfig config;
  config.operators = {{"ops", sha256_hex(kToken), ""}};
  test::RecordingRollouts rollouts({"stable", "beta"}, {"2.4.0", "2.5.0-rc.1"});
  Api api(registry, config, &rollouts);
  ServerOptions o;
  o.port = 0;
  o.threads = 2;
  auto server = HttpServer::start(api, o);
  ASSERT_TRUE(server) << server.error().message();

  const fs::path screenshot = fs::path(EF_BINARY_DIR) / "fleet-dashboard.png";
  const std::string reason = "canary failures <b>under review</b>";
  const json settings = {
      {"base", "http://127.0.0.1:" + std::to_string((*server)->port())},
      {"token", kToken},
      {"device", "store-0213"},
      {"channel", "stable"},
      {"reason", reason},
      {"screenshot", screenshot.string()},
      {"deviceScreenshot", (fs::path(EF_BINARY_DIR) / "fleet-device.png").string()}};
  tmp.write("settings.json", settings.dump());
  auto run =
      test::run_command("cd " + kScripts.string() + " && timeout 240 node dashboard.mjs " +
                        (tmp / "settings.json").string() + " 2>" + (tmp / "node.err").string());
  auto err = test::run_command("cat " + (tmp / "node.err").string());
  ASSERT_EQ(run.status, 0) << run.out << "\n" << err.out;
  const json seen = json::parse(run.out, nullptr, false);
  ASSERT_FALSE(seen.is_discarded()) << run.out;
  SCOPED_TRACE(seen.dump(1));

  // Log-in: refused with a wrong token, a strict HttpOnly cookie with the right one.
  EXPECT_EQ(seen["before"]["path"], "/login");
  EXPECT_EQ(seen["wrong"]["status"], 401);
  EXPECT_EQ(seen["wrong"]["message"], "Wrong operator, token or password.");
  EXPECT_EQ(seen["wrong"]["cookies"], 0);
  EXPECT_EQ(seen["login"]["path"], "/");
  EXPECT_EQ(seen["login"]["status"], 200);
  EXPECT_EQ(seen["login"]["cookie"], (json::array({{{"name", "ef_session"},
                                                    {"httpOnly", true},
                                                    {"sameSite", "Strict"},
                                                    {"path", "/"},
                                                    {"secure", false}}})));

  // The fleet page shows the database's numbers: the ones this test put in,
  // and the roll-up's of the same database.
  const json& shown = seen["fleet"]["metrics"];
  const json expected = {{"devices", 38},       {"state.ready", 35},
                         {"state.unpaired", 1}, {"state.provisioned", 2},
                         {"phase.updated", 14}, {"phase.updating", 2},
                         {"phase.pending", 14}, {"phase.waiting-window", 2},
                         {"phase.failed", 2},   {"phase.rolled-back", 1},
                         {"silent", 2}};
  EXPECT_EQ(shown, expected);
  auto all = registry.devices();
  ASSERT_TRUE(all);
  RollupOptions ro;
  ro.now = now_utc();
  const json counts = rollup(*all, ro);
  EXPECT_EQ(shown["devices"], counts["devices"]);
  EXPECT_EQ(shown["silent"], counts["silent"]);
  for (const auto& [phase, n] : counts["byPhase"].items())
    EXPECT_EQ(shown["phase." + phase], n) << phase;
  for (const auto& [state, n] : counts["byState"].items())
    EXPECT_EQ(shown["state." + state], n) << state;

  auto wave = [&](const std::string& channel, const std::string& w) {
    for (const auto& row : seen["fleet"]["waves"])
      if (row["channel"] == channel && row["wave"] == w) return row;
    return json();
  };
  const json canary = wave("stable", "canary"), early = wave("stable", "early"),
             rest = wave("stable", "rest"), beta = wave("beta", "canary");
  EXPECT_EQ(canary["release"], "2.4.0");
  EXPECT_EQ(canary["devices"], 6);
  EXPECT_EQ(canary["updated"], 5);
  EXPECT_EQ(canary["failed"], 1);
  EXPECT_EQ(early["devices"], 12);
  EXPECT_EQ(early["updated"], 7);
  EXPECT_EQ(early["updating"], 2);
  EXPECT_EQ(early["pending"], 2);
  EXPECT_EQ(early["failed"], 1);
  EXPECT_EQ(rest["devices"], 14);
  EXPECT_EQ(rest["pending"], 14);
  EXPECT_EQ(beta["devices"], 3);
  EXPECT_EQ(beta["failed"], 1);
  // The bar: 5 of 6 updated, 1 of 6 failed.
  EXPECT_EQ(canary["bar"], (json{"seg-updated 83.33%", "seg-failed 16.67%"}));
  EXPECT_EQ(seen["fleet"]["channels"],
            (json::array({{{"channel", "stable"}, {"state", "rolling"}},
                          {{"channel", "beta"}, {"state", "rolling"}}})));
  EXPECT_EQ(seen["fleet"]["injected"], 0);

  // The device's page: its error as text, nothing injected, no script ran.
  EXPECT_EQ(seen["device"]["id"], "store-0213");
  EXPECT_EQ(seen["device"]["phase"], "failed");
  EXPECT_EQ(seen["device"]["error"], kEvil);
  EXPECT_EQ(seen["device"]["errorChildren"], 0);
  EXPECT_EQ(seen["device"]["injected"], 0);
  EXPECT_EQ(seen["dialogs"], json::array());

  // Pause went through RolloutControl once; the forms without the token,
  // or from another site, changed nothing.
  EXPECT_EQ(seen["pause"]["path"], "/");
  EXPECT_EQ(seen["pause"]["state"], "paused");
  EXPECT_EQ(seen["csrf"]["without"], 403);
  EXPECT_EQ(seen["csrf"]["wrong"], 403);
  EXPECT_EQ(seen["crossSite"]["path"], "/login");
  using Call = test::RecordingRollouts::Call;
  EXPECT_EQ(rollouts.calls(), (std::vector<Call>{{"pause", "stable", "ops", reason}}));

  EXPECT_EQ(seen["logout"]["path"], "/login");
  EXPECT_EQ(seen["logout"]["after"], "/login");
  EXPECT_TRUE(fs::exists(screenshot));
}

}  // namespace
}  // namespace ef::fleet
