// `edgeforge fleet` against the edgeforge-fleet program watching a gated
// channel directory: a registration token, pre-provisioning, the device
// list and status, and a pause and resume that land in the channel file as
// `edgeforge channel show` (and so a device) reads it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "channel/channel_store.hpp"
#include "tests/channel/channel_fixture.hpp"
#include "tests/fleet/fleet_program.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

using nlohmann::json;
using test::FleetProgram;

TEST(FleetCliTest, OperatorsListImportPauseAndResumeThroughTheService) {
  test::TempDir tmp;
  auto channel_key = channel::fixture::make_key();
  auto rollout_key = channel::fixture::make_key();
  channel::fixture::make_keyring(tmp / "keyring", {channel_key.get()});
  channel::fixture::make_keyring(tmp / "keyring/rollout", {rollout_key.get()});
  ASSERT_TRUE(write_file_atomic(tmp / "rollout.pem", *rollout_key->private_pem()));
  channel::ChannelDoc doc = channel::fixture::sample_doc();
  doc.issued = now_utc() - 60;
  doc.expires = doc.issued + 30 * 86400;
  doc.rollout.start = doc.issued;
  doc.rollout.gate = channel::Gate{};
  auto store = channel::open_dir_store(tmp / "channels");
  ASSERT_TRUE(channel::write_channel(*store, doc, {channel_key.get()}));
  tmp.write("fleet.yaml",
            "operators:\n  - {name: ops, tokenSha256: " + sha256_hex("op-secret") +
                "}\nchannels:\n  - location: " + (tmp / "channels/stable.json").string() +
                "\n    keyring: " + (tmp / "keyring").string() + "\n    rolloutKey: " +
                (tmp / "rollout.pem").string() + "\ngates: {intervalSeconds: 1}\n");

  FleetProgram service(tmp.path(), tmp / "f.sqlite", tmp / "fleet.yaml", "watching");
  ASSERT_NE(service.output().find("watching 1 channel"), std::string::npos) << service.output();
  const std::string port = service.port();
  tmp.write("token", "op-secret\n");
  const std::string fleet =
      std::string("EDGEFORGE_FLEET=http://127.0.0.1:") + port + " " + EF_EDGEFORGE_BIN + " fleet ";
  auto run = [&](const std::string& args) {
    return test::run_command(fleet + args + " --token-file " + (tmp / "token").string() + " 2>&1");
  };
  auto json_of = [](const test::CommandOutput& r) {
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  };

  auto r = run("token --auto-approve --single-use --lifetime 1d --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json_of(r)["token"].get<std::string>().size(), 64u);
  r = run("import nuc-1 nuc-2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json_of(r)["imported"], 2);
  r = run("devices --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json_of(r)["devices"].size(), 2u);
  r = run("status");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("2 devices"), std::string::npos) << r.out;

  const std::string show = std::string(EF_EDGEFORGE_BIN) + " channel show " +
                           (tmp / "channels/stable.json").string() + " --keyring " +
                           (tmp / "keyring").string() + " --json";
  r = run("pause stable --reason 'store 42 reports slow boots'");
  ASSERT_EQ(r.status, 0) << r.out;
  auto shown = test::run_command(show);
  ASSERT_EQ(shown.status, 0) << shown.out;
  EXPECT_EQ(json_of(shown)["pausedBy"],
            "the fleet service paused the channel: paused by ops: store 42 reports slow boots");
  EXPECT_EQ(json_of(shown)["rolloutSignedBy"], rollout_key->key_id());
  r = run("resume stable");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(json_of(test::run_command(show))["pausedBy"].is_null());

  // Bad input: one line each, exit 1.
  for (const auto& [args, says] :
       std::vector<std::pair<std::string, std::string>>{{"pause nope", "HTTP 404"},
                                                        {"approve nuc-9", "HTTP 404"},
                                                        {"import", "no device IDs"}}) {
    r = run(args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_NE(r.out.find(says), std::string::npos) << args << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
  tmp.write("wrong", "not-the-token\n");
  r = test::run_command(fleet + "devices --token-file " + (tmp / "wrong").string() + " 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("HTTP 401"), std::string::npos) << r.out;

  int status = service.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace ef::fleet
