// The device side of upgrades against files standing in for the partitions:
// real squashfs images (mksquashfs), real signed bundles, a real grubenv
// (checked with grub-editenv), and the agent's journal. What a QEMU boot
// adds on top is in tests/agent/agent_e2e_test.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/health.hpp"
#include "agent/operations.hpp"
#include "builder/build/bundle_output.hpp"
#include "device/slot_state.hpp"
#include "signing/bundle.hpp"
#include "signing/keys.hpp"
#include "tests/agent/device_fixture.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

using test_device::DeviceFixture;
using test_device::kSlotBytes;

class OperationsTest : public DeviceFixture {
 protected:
  Result<UpgradeResult> upgrade_with(const fs::path& b) {
    EF_ASSIGN(Device d, open());
    UpgradeOptions o;
    o.bundle = b.string();
    return upgrade(d, o, [this](const std::string& l) { log += l + "\n"; });
  }

  std::string grubenv_bytes() { return *read_file(tmp / "esp/grub/grubenv"); }
};

TEST_F(OperationsTest, AFreshDeviceRecordsTheBootedImageAsGood) {
  ASSERT_TRUE(open());
  AgentState s = state();
  EXPECT_EQ(s.a.health, SlotHealth::good);
  EXPECT_EQ(s.a.version, "1.0.0");
  EXPECT_EQ(s.b.health, SlotHealth::empty);
}

TEST_F(OperationsTest, UpgradeWritesTheOtherSlotItsBootFilesAndSwitchesOnTrial) {
  fs::path b = bundle("2.0.0", "1.5.0");
  auto r = upgrade_with(b);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->slot, "B");
  std::string image = *read_file(tmp / "edge-2.0.0.squashfs");
  EXPECT_TRUE(read_file(tmp / "slot-b")->substr(0, image.size()) == image);
  EXPECT_TRUE(*read_file(tmp / "slot-a") == std::string(kSlotBytes, '\0')) << "booted slot touched";
  EXPECT_EQ(*read_file(tmp / "esp/slot-b/vmlinuz"), "kernel 2.0.0");
  EXPECT_EQ(*read_file(tmp / "esp/slot-b/initrd.img"), "initrd 2.0.0");
  EXPECT_EQ(*read_file(tmp / "esp/slot-b/edgeforge.cpio"), "cpio 2.0.0");
  EXPECT_EQ(*read_file(tmp / "esp/slot-a/vmlinuz"), "kernel 1.0.0");
  // grub-editenv, not our parser, reads the switch.
  auto list = test::run_command("grub-editenv " + (tmp / "esp/grub/grubenv").string() + " list");
  ASSERT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("ORDER=B A"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("B_OK=0"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("B_TRY=3"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("A_OK=1"), std::string::npos) << list.out;
  AgentState s = state();
  EXPECT_EQ(s.b.health, SlotHealth::trial);
  EXPECT_EQ(s.b.version, "2.0.0");
  // The digest of the SBOM the bundle carried under its signature.
  EXPECT_EQ(s.b.sbom_sha256, *sha256_file(tmp / "edge-2.0.0.spdx.json"));
  EXPECT_EQ(s.operation->phase, OperationPhase::done);
  EXPECT_EQ(s.floor, "0.0.0") << "the floor rises only when the new slot is marked good";
}

// The command as a script drives it (scripts/bench-slot-write.sh): stdout is
// one JSON document with the time of each phase, the log goes to stderr.
TEST_F(OperationsTest, UpgradeCommandPrintsOneJsonDocumentWithItsPhaseTimes) {
  fs::path b = bundle("2.0.0");
  std::string device =
      " --config agent.json --esp esp --slot-a slot-a --slot-b slot-b"
      " --state persist/agent/state.json --cmdline cmdline --lock agent.lock";
  auto r = test::run_command("cd " + tmp.path().string() + " && " + EF_AGENT_BIN + " upgrade " +
                             b.string() + device + " --progress --json 2>stderr");
  std::string err = *read_file(tmp / "stderr");
  ASSERT_EQ(r.status, 0) << err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "stdout is not one JSON document:\n" << r.out;
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["slot"], "B");
  EXPECT_EQ(j["version"], "2.0.0");
  // The payload: the image and its verity tree.
  EXPECT_GE(j["bytes"].get<uint64_t>(), fs::file_size(tmp / "edge-2.0.0.squashfs"));
  for (const char* phase : {"writeSeconds", "readBackSeconds", "bootFilesSeconds"}) {
    ASSERT_TRUE(j[phase].is_number()) << phase;
    EXPECT_GT(j[phase].get<double>(), 0.0) << phase;
  }
  EXPECT_NE(err.find("edgeforge-agent: phase boot-files"), std::string::npos) << err;
  EXPECT_NE(err.find("edgeforge-agent: written 100%"), std::string::npos) << err;
  EXPECT_EQ(*read_file(tmp / "esp/slot-b/vmlinuz"), "kernel 2.0.0");
}

TEST_F(OperationsTest, RefusedBundlesChangeNeitherTheSlotNorTheBootStateNorTheJournal) {
  ASSERT_TRUE(open());  // the journal exists, as on a booted device
  fs::path good = bundle("2.0.0");
  fs::path stranger_b = bundle("2.0.0", "", "stranger.pem");
  fs::path other = bundle("2.0.0", "", "key.pem", "other-board");
  fs::path older = bundle("0.9.0");
  // Revoked (last case): the device key's id in the keyring's revoked list.
  const std::string env = grubenv_bytes(), journal = *read_file(paths.state);
  struct Case {
    fs::path bundle;
    std::string error;
    bool revoke = false;
  };
  for (const Case& c : std::vector<Case>{{stranger_b, "not in the keyring"},
                                         {other, "other-board"},
                                         {older, "older than the installed 1.0.0"},
                                         {good, "revoked", true}}) {
    if (c.revoke) tmp.write("ring/revoked", key->key_id() + "\n");
    auto r = upgrade_with(c.bundle);
    ASSERT_FALSE(r) << c.bundle;
    EXPECT_NE(r.error().message().find(c.error), std::string::npos) << r.error().message();
    EXPECT_TRUE(grubenv_bytes() == env) << c.bundle;
    EXPECT_TRUE(*read_file(paths.state) == journal) << c.bundle;
    EXPECT_TRUE(*read_file(tmp / "slot-a") == std::string(kSlotBytes, '\0')) << c.bundle;
    EXPECT_TRUE(*read_file(tmp / "slot-b") == std::string(kSlotBytes, '\0')) << c.bundle;
  }
}

TEST_F(OperationsTest, ATamperedPayloadIsCaughtAndLeavesTheSlotOutOfTheBootOrder) {
  ASSERT_TRUE(open());
  fs::path good = bundle("2.0.0");
  std::string bytes = *read_file(good);
  // The payload's last byte (the bundle's documents follow it).
  auto opened = signing::Bundle::open(good);
  ASSERT_TRUE(opened);
  bytes[opened->header().payload_offset + opened->header().payload_size - 1] ^= 1;
  tmp.write("tampered.efb", bytes);
  ASSERT_FALSE(upgrade_with(tmp / "tampered.efb"));
  device::SlotState g = grub();
  EXPECT_EQ(g.order, "A B");
  EXPECT_FALSE(g.b_ok);
  EXPECT_EQ(g.b_tries, 0);
  AgentState s = state();
  EXPECT_EQ(s.b.health, SlotHealth::empty);
  EXPECT_EQ(s.operation->phase, OperationPhase::failed);
  EXPECT_NE(s.operation->error.find("sha256"), std::string::npos) << s.operation->error;
}

TEST_F(OperationsTest, AHealthyTrialBootIsMarkedGoodAndRaisesTheFloor) {
  ASSERT_TRUE(upgrade_with(bundle("2.0.0", "1.5.0")));
  boot_from("B");  // GRUB took one try
  device::SlotState g = grub();
  g.b_tries = 2;
  ASSERT_TRUE(BootControl(tmp / "esp").write(g));
  auto d = open();
  ASSERT_TRUE(d);
  auto outcome = boot_check(*d, [](const std::string&) {});
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_EQ(*outcome, BootOutcome::marked_good);
  g = grub();
  EXPECT_TRUE(g.b_ok);
  EXPECT_EQ(g.b_tries, 0);
  EXPECT_EQ(g.order, "B A");
  EXPECT_TRUE(g.a_ok) << "the old slot stays as the fallback";
  AgentState s = state();
  EXPECT_EQ(s.b.health, SlotHealth::good);
  EXPECT_EQ(s.floor, "1.5.0");
}

TEST_F(OperationsTest, AFailedHealthCheckMarksTheSlotBadAndPutsTheOtherFirst) {
  ASSERT_TRUE(upgrade_with(bundle("2.0.0")));
  boot_from("B");
  write_config("echo k3s is not ready >&2; exit 7");
  auto d = open();
  ASSERT_TRUE(d);
  auto outcome = boot_check(*d, [](const std::string&) {});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(*outcome, BootOutcome::marked_bad);
  device::SlotState g = grub();
  EXPECT_EQ(g.order, "A B");
  EXPECT_FALSE(g.b_ok);
  EXPECT_EQ(g.b_tries, 0);
  AgentState s = state();
  EXPECT_EQ(s.b.health, SlotHealth::bad);
  EXPECT_NE(s.operation->error.find("k3s is not ready"), std::string::npos) << s.operation->error;
}

TEST_F(OperationsTest, AHealthCommandThatHangsTimesOut) {
  write_config("sleep 30", 1);
  auto cfg = load_config(tmp / "agent.json");
  ASSERT_TRUE(cfg);
  auto r = run_health_checks(cfg->health, [](const std::string&) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("timed out after 1 s"), std::string::npos)
      << r.error().message();
}

TEST_F(OperationsTest, TriesUsedUpWithoutMarkGoodAreSeenAsAFailedSlotAfterTheFallback) {
  ASSERT_TRUE(upgrade_with(bundle("2.0.0")));
  // GRUB tried B three times (a kernel panic each time), then fell back to A.
  device::SlotState g = grub();
  g.b_tries = 0;
  ASSERT_TRUE(BootControl(tmp / "esp").write(g));
  auto d = open();
  ASSERT_TRUE(d);
  EXPECT_EQ(state().b.health, SlotHealth::bad);
  EXPECT_NE(log.find("did not come up within its tries"), std::string::npos) << log;
  auto outcome = boot_check(*d, [](const std::string&) {});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(*outcome, BootOutcome::none);
  EXPECT_EQ(grub().order, "A B");
}

TEST_F(OperationsTest, APowerCutWhileWritingLeavesAnEmptySlotAndARetryCompletes) {
  ASSERT_TRUE(open());
  // What a cut in the middle of the payload leaves: the journal says
  // "writing", GRUB has the slot out of the order, half an image in it.
  AgentState s = state();
  s.operation = Operation{"upgrade", OperationPhase::writing, "B", "b.efb", "2.0.0", ""};
  ASSERT_TRUE(save_state(paths.state, s));
  tmp.write("slot-b", std::string(kSlotBytes / 2, 'x') + std::string(kSlotBytes / 2, '\0'));
  ASSERT_TRUE(open());
  s = state();
  EXPECT_EQ(s.b.health, SlotHealth::empty);
  EXPECT_EQ(s.operation->phase, OperationPhase::failed);
  EXPECT_NE(s.operation->error.find("interrupted during writing"), std::string::npos);
  EXPECT_EQ(grub().order, "A B");
  auto r = upgrade_with(bundle("2.0.0"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(state().b.health, SlotHealth::trial);
}

TEST_F(OperationsTest, APowerCutDuringTheSwitchIsResolvedFromGrubenv) {
  ASSERT_TRUE(upgrade_with(bundle("2.0.0")));
  AgentState done = state();
  // Cut after the grubenv write, before the journal said "done".
  AgentState s = done;
  s.b.health = SlotHealth::empty;
  s.operation->phase = OperationPhase::switching;
  ASSERT_TRUE(save_state(paths.state, s));
  ASSERT_TRUE(open());
  EXPECT_EQ(state().b.health, SlotHealth::trial);
  EXPECT_EQ(state().operation->phase, OperationPhase::done);
  // Cut before the grubenv write: the slot never entered the boot order.
  device::SlotState g = grub();
  g.order = "A B";
  g.b_tries = 0;
  ASSERT_TRUE(BootControl(tmp / "esp").write(g));
  ASSERT_TRUE(save_state(paths.state, s));
  ASSERT_TRUE(open());
  EXPECT_EQ(state().b.health, SlotHealth::empty);
  EXPECT_EQ(state().operation->phase, OperationPhase::failed);
}

TEST_F(OperationsTest, RollbackNeedsAGoodOtherSlot) {
  auto d = open();
  ASSERT_TRUE(d);
  auto r = rollback(*d, false, [](const std::string&) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nothing to roll back to"), std::string::npos);
}

TEST_F(OperationsTest, RollbackFromAGoodNewSlotBootsTheOldOneNext) {
  ASSERT_TRUE(upgrade_with(bundle("2.0.0")));
  boot_from("B");
  {
    auto d = open();
    ASSERT_TRUE(d);
    ASSERT_TRUE(mark_good(*d, [](const std::string&) {}));
  }
  auto d = open();
  ASSERT_TRUE(d);
  ASSERT_TRUE(rollback(*d, true, [](const std::string&) {}));
  device::SlotState g = grub();
  EXPECT_EQ(g.order, "A B");
  EXPECT_TRUE(g.a_ok);
  EXPECT_FALSE(g.b_ok);
  EXPECT_EQ(state().b.health, SlotHealth::bad);
}

TEST_F(OperationsTest, UpgradeIsRefusedWhileTheRunningSlotIsOnTrial) {
  ASSERT_TRUE(upgrade_with(bundle("2.0.0")));
  boot_from("B");
  auto r = upgrade_with(bundle("3.0.0"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("still on trial"), std::string::npos);
}

TEST_F(OperationsTest, OneAgentAtATime) {
  auto first = open();
  ASSERT_TRUE(first);
  auto second = open();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::refused);
}

}  // namespace
}  // namespace ef::agent
