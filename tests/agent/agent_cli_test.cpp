// edgeforge-agent write-slot as an operator runs it: nothing touches the
// slot unless the bundle is trusted and allowed.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/state.hpp"
#include "builder/publish/publish.hpp"
#include "tests/signing/bundle_fixture.hpp"
#include "tests/support/command.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using namespace signing::fixture;

class AgentCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
    auto other = signing::SigningKey::generate(signing::Algorithm::ed25519);
    ASSERT_TRUE(k && other);
    auto in = inputs_for(write_image(tmp / "image", 100));
    ASSERT_TRUE(signing::create_bundle(in, {&*k}, tmp / "good.efb"));
    ASSERT_TRUE(signing::create_bundle(in, {&*other}, tmp / "stranger.efb"));
    write_keyring(tmp / "ring", {&*k});
    ASSERT_TRUE(write_file_atomic(tmp / "slot", std::string(1 << 20, '\x11')));
  }

  test::CommandOutput agent(const std::string& args) {
    return test::run_command("cd " + tmp.path().string() + " && " + EF_AGENT_BIN + " " + args +
                             " 2>stderr");
  }
  std::string stderr_text() { return *read_file(tmp / "stderr"); }
  bool slot_untouched() { return *read_file(tmp / "slot") == std::string(1 << 20, '\x11'); }

  ::ef::test::TempDir tmp;
};

TEST_F(AgentCliTest, WriteSlotVerifiesWritesAndReportsJson) {
  auto r = agent(
      "write-slot good.efb --slot slot --keyring ring --compatible store-edge-nuc "
      "--min-version 1.0.0 --json");
  ASSERT_EQ(r.status, 0) << stderr_text();
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["version"], "1.4.0");
  EXPECT_EQ(j["bytes"].get<uint64_t>(), 100u * 4096 + 4096);
  EXPECT_EQ(read_file(tmp / "slot")->substr(0, 100 * 4096), image_bytes(100));
}

// From a bundle head: --seed names slots to copy from, --kept-chunks where
// each slot's chunk index is kept (SLOTNAME.chunks); --json says how the
// plan was made.
TEST_F(AgentCliTest, WriteSlotFromAHeadKeepsTheSlotsChunkIndex) {
  ASSERT_TRUE(publish::publish_to_dir(tmp / "good.efb", tmp / "store"));
  ASSERT_TRUE(write_file_atomic(tmp / "seed", std::string(1 << 20, '\x22')));
  auto r = agent("write-slot store/" + publish::head_file_name("store-edge", "1.4.0") +
                 " --slot slot --seed seed --keyring ring --kept-chunks kept --json");
  ASSERT_EQ(r.status, 0) << stderr_text();
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("delta")) << r.out;
  EXPECT_EQ(j["delta"]["seedsFromKeptIndex"], 0);
  EXPECT_GE(j["delta"]["planSeconds"].get<double>(), 0.0);
  EXPECT_EQ(read_file(tmp / "slot")->substr(0, 100 * 4096), image_bytes(100));
  auto kept = read_file(tmp / "kept" / "slot.chunks");
  ASSERT_TRUE(kept) << "no kept index for the written slot";
  EXPECT_EQ(kept->rfind("edgeforge-slot-chunks 1 ", 0), 0u) << *kept;
  EXPECT_EQ(*read_file(tmp / "seed"), std::string(1 << 20, '\x22'));  // a seed is only read
}

TEST_F(AgentCliTest, RefusedBundlesLeaveTheSlotAlone) {
  struct Case {
    std::string args, error;
  };
  for (const Case& c : std::vector<Case>{
           {"stranger.efb", "key not in the keyring"},
           {"good.efb --compatible other", "bundle is for \"store-edge-nuc\""},
           {"good.efb --min-version 2.0.0", "below the anti-rollback floor 2.0.0"},
           {"good.efb --installed-version 1.5.0", "older than the installed 1.5.0"},
           {"missing.efb", "cannot open missing.efb"},
       }) {
    auto r = agent("write-slot " + c.args + " --slot slot --keyring ring");
    EXPECT_EQ(r.status, 1) << c.args;
    EXPECT_NE(stderr_text().find("edgeforge-agent: error: "), std::string::npos);
    EXPECT_NE(stderr_text().find(c.error), std::string::npos) << stderr_text();
    EXPECT_TRUE(slot_untouched()) << c.args;
  }
  EXPECT_EQ(agent("write-slot good.efb --slot slot --keyring ring --installed-version 1.5.0 "
                  "--allow-downgrade")
                .status,
            0)
      << stderr_text();
}

TEST_F(AgentCliTest, StatusReadsTheStateAndTheBootedSlot) {
  AgentState st;
  st.a = {SlotHealth::good, "store-edge", "1.0.0", std::string(64, 'a'), "", std::string(64, 'e')};
  st.b = {SlotHealth::bad, "store-edge", "1.1.0", std::string(64, 'b'), "", ""};
  st.floor = "1.0.0";
  st.operation =
      Operation{"upgrade", OperationPhase::failed, "B", "b.efb", "1.1.0", "health check failed"};
  ASSERT_TRUE(save_state(tmp / "state.json", st));
  tmp.write("cmdline", "BOOT_IMAGE=/slot-a/vmlinuz boot=edgeforge edgeforge.slot=A ro quiet\n");
  auto r = agent("status --state state.json --cmdline cmdline --json");
  ASSERT_EQ(r.status, 0) << stderr_text();
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["booted"], "A");
  EXPECT_EQ(j["slots"]["A"]["state"], "good");
  EXPECT_EQ(j["slots"]["B"]["state"], "bad");
  EXPECT_EQ(j["slots"]["B"]["version"], "1.1.0");
  EXPECT_EQ(j["lastOperation"]["error"], "health check failed");
  // The running image's SBOM digest, as its bundle's signed manifest said.
  EXPECT_EQ(j["sbomSha256"], std::string(64, 'e'));
  EXPECT_EQ(j["slots"]["A"]["sbomSha256"], std::string(64, 'e'));
  EXPECT_TRUE(j["slots"]["B"]["sbomSha256"].is_null());
  r = agent("status --state state.json --cmdline cmdline");
  EXPECT_NE(r.out.find("slot B: bad  store-edge 1.1.0"), std::string::npos) << r.out;
  tmp.write("broken.json", "{");
  EXPECT_EQ(agent("status --state broken.json").status, 1);
  EXPECT_NE(stderr_text().find("broken.json: agent state is not JSON"), std::string::npos);
}

}  // namespace
}  // namespace ef::agent

namespace ef::agent {
namespace {

// Usage errors: the same one line and exit status 2 as edgeforge's.
TEST_F(AgentCliTest, UsageErrorsAreOneLineWithStatusTwo) {
  for (const char* args : {"", "frobnicate", "write-slot good.efb", "install", "status --bogus"}) {
    auto r = agent(args);
    std::string err = stderr_text();
    EXPECT_EQ(r.status, 2) << args << "\n" << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << "\n" << err;
    EXPECT_EQ(err.rfind("edgeforge-agent: error: ", 0), 0u) << args << "\n" << err;
    EXPECT_NE(err.find("--help'"), std::string::npos) << args << "\n" << err;
  }
  EXPECT_TRUE(slot_untouched());
  auto help = agent("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("3 boot --no-reboot marked the slot on trial bad"), std::string::npos)
      << help.out;
}

}  // namespace
}  // namespace ef::agent
