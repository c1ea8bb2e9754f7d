// Boots the A/B disk image under QEMU (UEFI, OVMF, TCG) and reads the test
// probe's markers from the serial console: slot A boots to multi-user with a
// read-only squashfs root and writable /etc and /var; changes survive a
// reboot; with slot A marked bad GRUB falls back to slot B and counts down
// B's tries; the installer ISO boots under UEFI and BIOS to its menu and
// into the live system. One image is built per run and shared (the tests
// run in order).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "device/grubenv.hpp"
#include "device/slot_state.hpp"
#include "iso/disk_image.hpp"
#include "iso/installer_iso.hpp"
#include "iso/vm.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kEpoch = 1747699200;
constexpr const char* kBootTimeout = "420";  // seconds per boot under TCG

std::string cache_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/edgeforge";
}

class BootE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto r = run_command(std::string(EF_EDGEFORGE_BIN) + " build -q --cache-dir " + cache_dir() +
                         " --profile " + EF_SOURCE_DIR + "/tests/iso/e2e/profile.yaml --output " +
                         dir_->path().string() + " >&2");
    if (r.status != 0) return;
    iso::DiskSpec spec;
    spec.squashfs = dir_->path() / "boot-e2e-0.1.0.squashfs";
    spec.layout = {64 * iso::kMiB * 2, 512 * iso::kMiB, 256 * iso::kMiB};
    spec.epoch = kEpoch;
    spec.persistent_paths = {"/home", "/var/lib/containerd"};
    spec.grub_timeout = 0;
    auto info = iso::build_raw_disk(spec, dir_->path() / "disk.raw", dir_->path() / "work");
    if (!info) {
      ADD_FAILURE() << info.error().message();
      return;
    }
    info_ = new iso::DiskInfo(*info);
  }
  static void TearDownTestSuite() {
    delete info_;
    delete dir_;
  }
  void SetUp() override { ASSERT_NE(info_, nullptr) << "building the boot e2e disk failed"; }

  static fs::path disk() { return dir_->path() / "disk.raw"; }
  static fs::path iso_file() { return dir_->path() / "installer.iso"; }
  // mtools addresses the ESP inside the disk image by byte offset.
  static std::string esp() {
    return disk().string() + "@@" + std::to_string(info_->partitions[0].offset);
  }

  // Boots the disk once (the probe powers the guest off) and returns the serial log.
  static std::string boot(const std::string& name, const fs::path& image = disk(),
                          iso::Firmware firmware = iso::Firmware::uefi, bool usb_stick = false) {
    iso::VmSpec vm;
    vm.image = image;
    vm.firmware = firmware;
    vm.usb_stick = usb_stick;
    vm.work_dir = dir_->path() / name;
    vm.serial_log = dir_->path() / (name + ".log");
    auto argv = iso::qemu_command(vm);
    EXPECT_TRUE(argv.ok());
    if (!argv) return "";
    argv->insert(argv->begin(), {"timeout", kBootTimeout});
    auto res = run_process(*argv);
    EXPECT_TRUE(res.ok() && res->success())
        << "qemu: " << (res ? res->describe() + res->stderr_tail : "");
    auto log = read_file(vm.serial_log);
    return log ? *log : "";
  }

  static std::string read_grubenv() {
    auto r = run_command("MTOOLS_SKIP_CHECK=1 mtype -i " + esp() + " ::/grub/grubenv");
    return r.out;
  }
  static void write_grubenv(const device::SlotState& state) {
    auto env = device::slot_state_env(state);
    ASSERT_TRUE(env.ok());
    auto block = device::render_grubenv(*env);
    ASSERT_TRUE(block.ok());
    fs::path f = dir_->path() / "grubenv.new";
    ASSERT_TRUE(write_file_atomic(f, *block).ok());
    ASSERT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + esp() + " " + f.string() +
                          " ::/grub/grubenv")
                  .status,
              0);
  }

  // Slot B: the same squashfs in its partition, slot A's boot files on the
  // ESP; with `kernel_bytes`, a vmlinuz cut short there (a damaged ESP).
  static void prepare_slot_b(size_t kernel_bytes = 0) {
    const auto& b = info_->partitions[2];
    ASSERT_EQ(run_command("dd if=" + (dir_->path() / "boot-e2e-0.1.0.squashfs").string() + " of=" +
                          disk().string() + " bs=1M seek=" + std::to_string(b.offset / iso::kMiB) +
                          " conv=notrunc,sparse status=none")
                  .status,
              0);
    for (std::string f : {"vmlinuz", "initrd.img", "edgeforge.cpio"}) {
      fs::path local = dir_->path() / f;
      ASSERT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + esp() + " ::/slot-a/" + f + " " +
                            local.string())
                    .status,
                0);
      if (f == "vmlinuz" && kernel_bytes > 0) fs::resize_file(local, kernel_bytes);
      ASSERT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mmd -D s -i " + esp() +
                            " ::/slot-b 2>/dev/null; "
                            "MTOOLS_SKIP_CHECK=1 mcopy -o -i " +
                            esp() + " " + local.string() + " ::/slot-b/" + f)
                    .status,
                0);
    }
  }

  // The disk's grubenv as grub-editenv (the outside oracle) lists it.
  static std::string grubenv_listing() {
    fs::path env = dir_->path() / "grubenv.after";
    auto copied = run_command("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + esp() + " ::/grub/grubenv " +
                              env.string());
    EXPECT_EQ(copied.status, 0);
    return run_command("grub-editenv " + env.string() + " list").out;
  }

  static TempDir* dir_;
  static iso::DiskInfo* info_;
};

TempDir* BootE2E::dir_ = nullptr;
iso::DiskInfo* BootE2E::info_ = nullptr;

TEST_F(BootE2E, SlotABootsToMultiUserWithReadOnlySquashfsRoot) {
  std::string log = boot("boot1");
  EXPECT_NE(log.find("edgeforge: booting slot A"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST slot=A"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST target=active"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST root=squashfs,ro"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST etc=writable"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST var=writable"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST previous-boots=0 motd=edgeforge quick-start image"), std::string::npos)
      << log;
  EXPECT_NE(log.find("EFTEST done"), std::string::npos) << log;
}

TEST_F(BootE2E, VarAndEtcChangesSurviveReboot) {
  std::string log = boot("boot2");
  EXPECT_NE(log.find("EFTEST previous-boots=1 motd=changed-by-boot-1"), std::string::npos) << log;
}

TEST_F(BootE2E, FallsBackToSlotBWhenSlotAIsBad) {
  prepare_slot_b();
  // Slot A bad (not OK, no tries), slot B on trial with two tries left.
  write_grubenv({"A B", false, 0, false, 2});
  std::string log = boot("boot3");
  EXPECT_NE(log.find("edgeforge: booting slot B (trial=1)"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST slot=B"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST root=squashfs,ro"), std::string::npos) << log;
  // GRUB counted the try down before booting; grub-editenv is the oracle.
  std::string listed = grubenv_listing();
  EXPECT_NE(listed.find("B_TRY=1"), std::string::npos) << listed;
  EXPECT_NE(listed.find("A_OK=0"), std::string::npos) << listed;
}

// A slot whose kernel GRUB cannot even load (its ESP files damaged) must not
// leave a headless device at the menu: GRUB boots the good slot instead.
TEST_F(BootE2E, BootsTheGoodSlotWhenTheTrialSlotsKernelWillNotLoad) {
  prepare_slot_b(4096);
  // B first and on trial (one try), A good.
  write_grubenv({"B A", true, 0, false, 1});
  std::string log = boot("boot4");
  EXPECT_NE(log.find("edgeforge: booting slot B (trial=1)"), std::string::npos) << log;
  EXPECT_NE(log.find("you need to load the kernel first"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST slot=A"), std::string::npos) << log;
  std::string listed = grubenv_listing();
  EXPECT_NE(listed.find("B_TRY=0"), std::string::npos) << listed;
}

TEST_F(BootE2E, InstallerIsoBootsUefiAndBiosFromCdAndUsbToMenuAndLiveSystem) {
  iso::IsoSpec spec;
  spec.squashfs = dir_->path() / "boot-e2e-0.1.0.squashfs";
  spec.epoch = kEpoch;
  spec.timeout = 1;
  auto info = iso::build_installer_iso(spec, iso_file(), dir_->path() / "iso-work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  // As a CD (El Torito) under both firmwares, and as a USB stick written
  // with dd (the hybrid MBR and GPT) under both.
  for (auto [fw, usb] : {std::pair{iso::Firmware::uefi, false},
                         {iso::Firmware::bios, false},
                         {iso::Firmware::uefi, true},
                         {iso::Firmware::bios, true}}) {
    std::string name =
        std::string(fw == iso::Firmware::uefi ? "iso-uefi" : "iso-bios") + (usb ? "-usb" : "");
    std::string log = boot(name, iso_file(), fw, usb);
    EXPECT_NE(log.find("Install edgeforge to disk"), std::string::npos) << name << log;
    EXPECT_NE(log.find("Rescue shell"), std::string::npos) << name;
    EXPECT_NE(log.find("edgeforge: starting the installer"), std::string::npos)
        << name;  // the default entry
    EXPECT_NE(log.find("edgeforge.install=1"), std::string::npos) << name;
    EXPECT_NE(log.find("EFTEST target=active"), std::string::npos) << name << log;
    EXPECT_NE(log.find("EFTEST root=squashfs,ro"), std::string::npos) << name;
    EXPECT_NE(log.find("EFTEST etc=writable"), std::string::npos) << name;
    EXPECT_NE(log.find("EFTEST done"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace ef::test
