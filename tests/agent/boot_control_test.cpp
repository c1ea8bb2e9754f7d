// BootControl on a Secure Boot device: the slot state in systemd-boot's
// boot entries (device/boot_entries.hpp) instead of grubenv. The boot
// manager's own side of it (renaming a trial entry before booting it,
// falling back past an entry with +0) runs in QEMU in
// tests/iso/secure_boot_e2e_test.cpp.
#include "agent/boot_control.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "agent/operations.hpp"
#include "device/boot_entries.hpp"
#include "tests/agent/device_fixture.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

class BootEntriesControlTest : public test_device::DeviceFixture {
 protected:
  void SetUp() override {
    DeviceFixture::SetUp();
    // What `edgeforge build` writes with spec.secureBoot: slot A confirmed,
    // its counter armed.
    fs::remove_all(tmp / "esp");
    tmp.write("esp/loader/loader.conf", "timeout 0\n");
    tmp.write("esp/loader/entries/edgeforge-slot-a-good+3.conf", device::slot_entry_body("A", 1));
    tmp.write("esp/slot-a/edgeforge.efi", "signed kernel image A");
    tmp.write("cmdline", "boot=edgeforge ro edgeforge.verity=abc\n");  // no edgeforge.slot=
    tmp.write("booted-slot", "A\n");
  }

  std::vector<std::string> entries() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(tmp / "esp/loader/entries"))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string entry(const std::string& name) {
    return *read_file(tmp / "esp/loader/entries" / name);
  }
  BootControl boot() { return BootControl(tmp / "esp"); }
  Result<UpgradeResult> upgrade_with(const fs::path& b) {
    EF_ASSIGN(Device d, open());
    UpgradeOptions o;
    o.bundle = b.string();
    return upgrade(d, o, [this](const std::string& l) { log += l + "\n"; });
  }
};

TEST_F(BootEntriesControlTest, ABuiltDiskReadsAsSlotAConfirmed) {
  EXPECT_TRUE(boot().uses_boot_entries());
  auto s = boot().read();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->order, "A B");
  EXPECT_TRUE(s->a_ok);
  EXPECT_FALSE(s->b_ok);
  EXPECT_EQ(s->b_tries, 0);
  auto d = open();
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->booted(), "A") << "from the file the initramfs writes";
}

TEST_F(BootEntriesControlTest, TrialMarkGoodAndFallbackAreEntryRenames) {
  tmp.write("esp/slot-b/edgeforge.efi", "signed kernel image B");
  // Switch to B on trial.
  ASSERT_TRUE(boot().write({"B A", true, 0, false, 3}));
  EXPECT_EQ(entries(),
            (std::vector<std::string>{"edgeforge-slot-a-good+3.conf", "edgeforge-slot-b+3.conf"}));
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-b+3.conf")), 1);
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-a-good+3.conf")), 2);
  // systemd-boot counts a try by renaming the entry before it boots it.
  fs::rename(tmp / "esp/loader/entries/edgeforge-slot-b+3.conf",
             tmp / "esp/loader/entries/edgeforge-slot-b+2-1.conf");
  auto s = boot().read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->order, "B A");
  EXPECT_FALSE(s->b_ok);
  EXPECT_EQ(s->b_tries, 2);
  // Healthy: B confirmed, its counter armed for the boots to come.
  ASSERT_TRUE(boot().write({"B A", true, 0, true, 0}));
  EXPECT_EQ(entries(), (std::vector<std::string>{"edgeforge-slot-a-good+3.conf",
                                                 "edgeforge-slot-b-good+3.conf"}));
  // Marked bad instead: A first again, B kept as +0 (booted only when nothing else is left).
  ASSERT_TRUE(boot().write({"A B", true, 0, false, 0}));
  EXPECT_EQ(entries(),
            (std::vector<std::string>{"edgeforge-slot-a-good+3.conf", "edgeforge-slot-b+0.conf"}));
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-a-good+3.conf")), 1);
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-b+0.conf")), 2);
  s = boot().read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->order, "A B");
  EXPECT_TRUE(s->a_ok);
  EXPECT_FALSE(s->b_ok);
}

TEST_F(BootEntriesControlTest, ASlotWithoutItsKernelImageGetsNoEntry) {
  ASSERT_TRUE(boot().write({"B A", true, 0, false, 3}));
  EXPECT_EQ(entries(), (std::vector<std::string>{"edgeforge-slot-a-good+3.conf"}));
}

TEST_F(BootEntriesControlTest, TwoEntriesForOneSlotAreReportedNotGuessed) {
  tmp.write("esp/loader/entries/edgeforge-slot-a+1.conf", device::slot_entry_body("A", 1));
  auto s = boot().read();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("two boot entries for slot A"), std::string::npos)
      << s.error().message();
}

TEST_F(BootEntriesControlTest, ABundleWithoutASignedKernelImageIsRefusedBeforeTheSlotIsTouched) {
  auto r = upgrade_with(bundle("2.0.0"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("the bundle carries none"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(*read_file(tmp / "slot-b") == std::string(test_device::kSlotBytes, '\0'));
  EXPECT_EQ(entries(), (std::vector<std::string>{"edgeforge-slot-a-good+3.conf"}));
  // A bundle head cannot bring one yet: refused before anything is fetched.
  r = upgrade_with(tmp / "edge-2.0.0.efbh");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a bundle head"), std::string::npos)
      << r.error().message();
}

TEST_F(BootEntriesControlTest, UpgradeWritesTheKernelImageAndTheTrialBootIsMarkedGood) {
  with_kernel_image = true;
  auto r = upgrade_with(bundle("2.0.0", "1.5.0"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->slot, "B");
  EXPECT_EQ(*read_file(tmp / "esp/slot-b/edgeforge.efi"), *read_file(tmp / "edge-2.0.0.efi"));
  EXPECT_EQ(*read_file(tmp / "esp/slot-a/edgeforge.efi"), "signed kernel image A");
  // B first, on trial with the configured three tries; A confirmed second.
  EXPECT_EQ(entries(),
            (std::vector<std::string>{"edgeforge-slot-a-good+3.conf", "edgeforge-slot-b+3.conf"}));
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-b+3.conf")), 1);
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-a-good+3.conf")), 2);
  EXPECT_EQ(state().b.health, SlotHealth::trial);

  // systemd-boot counts a try and boots B; the initramfs says so.
  fs::rename(tmp / "esp/loader/entries/edgeforge-slot-b+3.conf",
             tmp / "esp/loader/entries/edgeforge-slot-b+2-1.conf");
  tmp.write("booted-slot", "B\n");
  auto d = open();
  ASSERT_TRUE(d) << d.error().message();
  auto outcome = boot_check(*d, [](const std::string&) {});
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_EQ(*outcome, BootOutcome::marked_good);
  EXPECT_EQ(entries(), (std::vector<std::string>{"edgeforge-slot-a-good+3.conf",
                                                 "edgeforge-slot-b-good+3.conf"}));
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-b-good+3.conf")), 1);
  EXPECT_EQ(state().b.health, SlotHealth::good);
  EXPECT_EQ(state().floor, "1.5.0");
}

// A confirmed slot is counted too: every healthy boot re-arms its counter,
// and one that stops booting (its image fails dm-verity, say) uses up its
// tries, the other slot boots, and the agent there marks it bad.
TEST_F(BootEntriesControlTest, AConfirmedSlotThatStopsBootingFallsBackAndIsMarkedBad) {
  with_kernel_image = true;
  ASSERT_TRUE(upgrade_with(bundle("2.0.0")));
  auto entries_dir = tmp / "esp/loader/entries";
  fs::rename(entries_dir / "edgeforge-slot-b+3.conf", entries_dir / "edgeforge-slot-b+2-1.conf");
  tmp.write("booted-slot", "B\n");
  {
    auto d = open();
    ASSERT_TRUE(d) << d.error().message();
    ASSERT_EQ(*boot_check(*d, [](const std::string&) {}), BootOutcome::marked_good);
  }
  // A healthy boot of confirmed B: systemd-boot counted it, the agent re-arms.
  fs::rename(entries_dir / "edgeforge-slot-b-good+3.conf",
             entries_dir / "edgeforge-slot-b-good+2-1.conf");
  {
    auto d = open();
    ASSERT_TRUE(d) << d.error().message();
    ASSERT_EQ(*boot_check(*d, [](const std::string&) {}), BootOutcome::none);
  }
  EXPECT_EQ(entries(), (std::vector<std::string>{"edgeforge-slot-a-good+3.conf",
                                                 "edgeforge-slot-b-good+3.conf"}));
  // Then B panics at three boots in a row: systemd-boot boots A.
  fs::rename(entries_dir / "edgeforge-slot-b-good+3.conf",
             entries_dir / "edgeforge-slot-b-good+0-3.conf");
  fs::rename(entries_dir / "edgeforge-slot-a-good+3.conf",
             entries_dir / "edgeforge-slot-a-good+2-1.conf");
  tmp.write("booted-slot", "A\n");
  log.clear();
  auto d = open();
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_NE(log.find("slot B (2.0.0) failed 3 boots in a row"), std::string::npos) << log;
  EXPECT_EQ(d->state().b.health, SlotHealth::bad);
  ASSERT_EQ(*boot_check(*d, [](const std::string&) {}), BootOutcome::none);
  // A first and re-armed; B kept last with no tries.
  EXPECT_EQ(entries(),
            (std::vector<std::string>{"edgeforge-slot-a-good+3.conf", "edgeforge-slot-b+0.conf"}));
  EXPECT_EQ(device::slot_entry_rank(entry("edgeforge-slot-a-good+3.conf")), 1);
  EXPECT_EQ(state().b.health, SlotHealth::bad);
}

TEST_F(BootEntriesControlTest, AKernelImageForAnotherImageIsRefusedAndTheSlotStaysOut) {
  with_kernel_image = true;
  kernel_image_root = std::string(64, 'a');
  auto r = upgrade_with(bundle("2.0.0"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is not for this image"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(entries(), (std::vector<std::string>{"edgeforge-slot-a-good+3.conf"}));
  auto s = boot().read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->order, "A B");
  EXPECT_EQ(state().operation->phase, OperationPhase::failed);
}

TEST(BootedSlotTest, TheCommandLineWinsThenTheInitramfsFile) {
  test::TempDir tmp;
  tmp.write("cmdline-grub", "boot=edgeforge edgeforge.slot=B ro\n");
  tmp.write("cmdline-uki", "boot=edgeforge ro edgeforge.verity=ab\n");
  tmp.write("booted-a", "A\n");
  tmp.write("booted-junk", "C\n");
  EXPECT_EQ(booted_slot(tmp / "cmdline-grub", tmp / "booted-a"), "B");
  EXPECT_EQ(booted_slot(tmp / "cmdline-uki", tmp / "booted-a"), "A");
  EXPECT_EQ(booted_slot(tmp / "cmdline-uki", tmp / "booted-junk"), "");
  EXPECT_EQ(booted_slot(tmp / "cmdline-uki", tmp / "missing"), "");
}

}  // namespace
}  // namespace ef::agent
