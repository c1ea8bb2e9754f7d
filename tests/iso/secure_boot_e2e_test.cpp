// Verified boot in QEMU (issue 18): a disk built with spec.secureBoot boots
// under OVMF with Secure Boot enforced, with Debian's test ("snakeoil") key
// as the operator's db key. One image is built per run; each test boots its
// own copy of the disk (sparse) with its own TPM (swtpm). Outside oracles:
// the firmware itself, sbverify, objcopy, veritysetup, cryptsetup.
#include <gtest/gtest.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

#include "iso/vm.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSnakeoilKey = "/usr/share/ovmf/PkKek-1-snakeoil.key";
constexpr const char* kSnakeoilCert = "/usr/share/ovmf/PkKek-1-snakeoil.pem";
constexpr int kBootSeconds = 420;  // per boot under TCG
constexpr uint64_t kMiB = 1024 * 1024;
// The test profile's disk: ESP 128 MiB, slots 512 MiB, persistent 256 MiB
// (docs/disk-layout.md).
constexpr uint64_t kEspOffset = kMiB;
constexpr uint64_t kSlotA = kMiB + 128 * kMiB;
constexpr uint64_t kSlotB = kSlotA + 512 * kMiB;
constexpr uint64_t kPersist = kSlotB + 512 * kMiB;
constexpr uint64_t kPersistSize = 256 * kMiB;
constexpr const char* kNoTpm = "none";

std::string cache_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/edgeforge";
}

// How one boot goes (designated initializers name only what differs from
// the defaults, hence no -Wmissing-field-initializers in this file).
struct BootRun {
  bool expect_end = true;     // the guest powers off by itself (a boot the
                              // firmware refuses never does: it ends in its
                              // boot menu until the timeout)
  bool allow_reboot = false;  // a reboot goes on (else it ends QEMU)
  int seconds = kBootSeconds;
  fs::path second_disk;
  std::string tpm;          // the TPM's state directory's name, the same for the
                            // same device (empty: the boot's name, a fresh
                            // TPM; kNoTpm: none)
  bool secure_boot = true;  // false: OVMF without Secure Boot
};

class SecureBootE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ok_ = prepare();
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override { ASSERT_TRUE(ok_) << "building the Secure Boot e2e disk failed"; }

  static fs::path dir() { return dir_->path(); }
  static fs::path built() { return dir() / "out/sb-e2e-0.1.0.raw"; }

  static bool sh(const std::string& cmd) {
    auto r = run_command(cmd + " >&2");
    EXPECT_EQ(r.status, 0) << cmd;
    return r.status == 0;
  }

  static bool prepare() {
    // The snakeoil key is encrypted with the passphrase its README gives.
    if (!sh("openssl pkey -in " + std::string(kSnakeoilKey) + " -passin pass:snakeoil -out " +
            (dir() / "db.key").string()))
      return false;
    if (!sh(std::string(EF_EDGEFORGE_BIN) + " keygen -q --out " + (dir() / "keys").string()))
      return false;
    // Release 0.1.0 as the disk, 0.2.0 as a bundle on a second disk for the
    // upgrade; both trust the bundle key (--sign-key puts it in the image).
    for (const char* version : {"0.1.0", "0.2.0"}) {
      std::string src = EF_SOURCE_DIR;
      std::string profile =
          "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: sb-e2e\n"
          "  version: " +
          std::string(version) + "\nspec:\n  extends: [" + src +
          "/examples/quickstart/profile.yaml]\n  layers:\n    - directory: {path: " + src +
          "/tests/iso/e2e/sb-guest}\n  secureBoot:\n    key: " + (dir() / "db.key").string() +
          "\n    certificate: " + kSnakeoilCert + "\n  output:\n    level: 3\n    formats: [" +
          (std::string(version) == "0.1.0" ? "raw" : "squashfs") +
          "]\n    disk: {espSize: 128, slotSize: 512, persistentSize: 256}\n";
      fs::path file = dir() / ("profile-" + std::string(version) + ".yaml");
      if (!write_file_atomic(file, profile)) return false;
      if (!sh(std::string(EF_EDGEFORGE_BIN) + " build -q --cache-dir " + cache_dir() +
              " --profile " + file.string() + " --output " + (dir() / "out").string() +
              " --sign-key " + (dir() / "keys/signing.key").string()))
        return false;
    }
    fs::create_directories(dir() / "bundles");
    fs::rename(dir() / "out/sb-e2e-0.2.0.efb", dir() / "bundles/upgrade.efb");
    return sh("mke2fs -q -F -t ext4 -L EFBUNDLES -d " + (dir() / "bundles").string() + " " +
              bundles_disk().string() + " 600M");
  }
  static fs::path bundles_disk() { return dir() / "bundles.img"; }

  // A private copy of the built disk for one test.
  static fs::path disk_copy(const std::string& name) {
    fs::path p = dir() / (name + ".raw");
    EXPECT_TRUE(sh("cp --sparse=always " + built().string() + " " + p.string()));
    return p;
  }
  static std::string esp(const fs::path& disk) {
    return disk.string() + "@@" + std::to_string(kEspOffset);
  }
  static bool mcopy_out(const fs::path& disk, const std::string& from, const fs::path& to) {
    return sh("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + esp(disk) + " ::" + from + " " + to.string());
  }
  static bool mcopy_in(const fs::path& disk, const fs::path& from, const std::string& to) {
    return sh("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + esp(disk) + " " + from.string() + " ::" + to);
  }
  // The file name of slot `slot`'s ("a" or "b") boot entry, or what the
  // listing says when there is not exactly one.
  static std::string entry_name(const fs::path& disk, const std::string& slot) {
    std::string listed =
        run_command("MTOOLS_SKIP_CHECK=1 mdir -b -i " + esp(disk) + " ::/loader/entries").out;
    std::istringstream in(listed);
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
      std::string name = line.substr(line.rfind('/') + 1);
      if (name.rfind("edgeforge-slot-" + slot, 0) == 0) names.push_back(name);
    }
    return names.size() == 1 ? names[0] : "listing: " + listed;
  }

  // Boots `disk` (Secure Boot on and a TPM, swtpm, unless `run` says
  // otherwise); returns the serial log.
  static std::string boot(const fs::path& disk, const std::string& name, const BootRun& run = {}) {
    iso::VmSpec vm;
    vm.image = disk;
    vm.secure_boot = run.secure_boot;
    vm.allow_reboot = run.allow_reboot;
    vm.work_dir = dir() / (name + "-vm");
    vm.serial_log = dir() / (name + ".log");
    std::optional<iso::SoftwareTpm> swtpm;
    if (run.tpm != kNoTpm) {
      auto started = iso::SoftwareTpm::start(dir() / ((run.tpm.empty() ? name : run.tpm) + "-tpm"));
      EXPECT_TRUE(started.ok()) << (started ? "" : started.error().message());
      if (!started) return "";
      swtpm.emplace(std::move(*started));
      vm.tpm_socket = swtpm->socket();
    }
    auto argv = iso::qemu_command(vm);
    EXPECT_TRUE(argv.ok()) << (argv ? "" : argv.error().message());
    if (!argv) return "";
    if (!run.second_disk.empty())
      argv->insert(argv->end(),
                   {"-drive", "if=virtio,format=raw,readonly=on,file=" + run.second_disk.string()});
    argv->insert(argv->begin(), {"timeout", std::to_string(run.seconds)});
    auto res = run_process(*argv);
    EXPECT_TRUE(res.ok());
    if (run.expect_end && res) {
      EXPECT_TRUE(res->success()) << "qemu: " << res->describe();
    }
    auto log = read_file(vm.serial_log);
    return log ? *log : "";
  }

  static TempDir* dir_;
  static bool ok_;
};

TempDir* SecureBootE2E::dir_ = nullptr;
bool SecureBootE2E::ok_ = false;

// Acceptance 1 (Secure Boot enforced, / a dm-verity device, /var on the
// persistent partition sealed to the TPM at first boot) with outside oracles
// for what the builder wrote, and Acceptance 6 (a fresh TPM does not unlock
// it; its own TPM still does).
TEST_F(SecureBootE2E, SignedDiskBootsWithSecureBootAndADmVerityRoot) {
  fs::path disk = disk_copy("boot1");
  for (const char* f : {"/EFI/BOOT/BOOTX64.EFI", "/slot-a/edgeforge.efi"}) {
    fs::path local = dir() / fs::path(f).filename();
    ASSERT_TRUE(mcopy_out(disk, f, local));
    auto v = run_command("sbverify --cert " + std::string(kSnakeoilCert) + " " + local.string() +
                         " 2>&1");
    EXPECT_EQ(v.status, 0) << f << ": " << v.out;
  }
  // The kernel image's command line holds the verity parameters; veritysetup
  // checks slot A's every block against them.
  fs::path uki = dir() / "edgeforge.efi";
  ASSERT_TRUE(sh("objcopy -O binary --only-section=.cmdline " + uki.string() + " " +
                 (dir() / "cmdline").string()));
  std::string cmdline = *read_file(dir() / "cmdline");
  auto arg = [&](const std::string& key) {
    size_t at = cmdline.find(" " + key + "=");
    if (at == std::string::npos) return std::string();
    at += key.size() + 2;
    return cmdline.substr(at, cmdline.find_first_of(" \n", at) - at);
  };
  std::string root = arg("edgeforge.verity"), offset = arg("edgeforge.verity.offset");
  ASSERT_EQ(root.size(), 64u) << cmdline;
  fs::path slot = dir() / "slot-a.img";
  ASSERT_TRUE(sh("dd if=" + disk.string() + " of=" + slot.string() +
                 " bs=1M skip=" + std::to_string(kSlotA / kMiB) + " count=512 status=none"));
  EXPECT_TRUE(
      sh("veritysetup verify --no-superblock --hash=sha256 --data-block-size=4096 "
         "--hash-block-size=4096 --data-blocks=" +
         arg("edgeforge.verity.blocks") + " --hash-offset=" + offset + " --salt=" +
         arg("edgeforge.verity.salt") + " " + slot.string() + " " + slot.string() + " " + root));
  fs::remove(slot);

  // First boot: the blank persistent partition becomes LUKS2 sealed to
  // this TPM, and /var's upper layer lives on it.
  std::string log = boot(disk, "boot1");
  EXPECT_NE(log.find("first boot: sealing the persistent partition"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST persist=/dev/mapper/edgeforge-persist"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST persist-dm-uuid=CRYPT-LUKS2-"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST var-upper=/run/edgeforge/persist/overlay/var/upper"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("EFTEST var-data="), std::string::npos) << log;
  EXPECT_EQ(log.find("EFTEST var-data=written"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST secureboot=1"), std::string::npos) << log;
  EXPECT_NE(log.find("[integrity]"), std::string::npos) << "kernel lockdown under Secure Boot\n"
                                                        << log;
  EXPECT_NE(log.find("EFTEST root=/dev/dm-0 fstype=squashfs,ro"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST dm-name=edgeforge-root under=vda2"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST booted-slot=A"), std::string::npos) << log;
  EXPECT_NE(log.find("edgeforge.verity=" + root), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST agent=booted slot: A"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST target=active"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST done"), std::string::npos) << log;

  // Acceptance 6: the disk in a VM with a fresh TPM: the partition does not
  // unlock and nothing reaches the system; the header and its TPM key stay.
  log = boot(disk, "boot1-other-tpm");
  EXPECT_NE(log.find("did not unlock with this device's TPM"), std::string::npos) << log;
  EXPECT_EQ(log.find("first boot: sealing"), std::string::npos) << log;
  EXPECT_EQ(log.find("EFTEST done"), std::string::npos) << log;
  fs::path header = dir() / "persist-header.img";
  ASSERT_TRUE(sh("dd if=" + disk.string() + " of=" + header.string() +
                 " bs=1M skip=" + std::to_string(kPersist / kMiB) + " count=16 status=none"));
  auto dump = run_command("cryptsetup luksDump --dump-json-metadata " + header.string());
  ASSERT_EQ(dump.status, 0) << dump.out;
  auto meta = nlohmann::json::parse(dump.out, nullptr, false);
  ASSERT_TRUE(meta.is_object()) << dump.out;
  // One key slot, opened by the systemd-tpm2 token (the first boot's
  // one-time key is wiped).
  EXPECT_EQ(meta["keyslots"].size(), 1u) << dump.out;
  ASSERT_EQ(meta["tokens"].size(), 1u) << dump.out;
  EXPECT_EQ(meta["tokens"].begin().value()["type"], "systemd-tpm2") << dump.out;
  EXPECT_EQ(meta["tokens"].begin().value()["tpm2-pcrs"], nlohmann::json::array({7})) << dump.out;
  fs::remove(header);
  // Its own TPM with Secure Boot off: PCR 7 differs, so the TPM keeps the
  // key (the unsigned-code path gets nothing).
  log = boot(disk, "boot1-sb-off", {.tpm = "boot1", .secure_boot = false});
  EXPECT_NE(log.find("did not unlock with this device's TPM"), std::string::npos) << log;
  EXPECT_EQ(log.find("EFTEST done"), std::string::npos) << log;
  // Back with its own TPM: unlocked, and what the first boot wrote is there.
  log = boot(disk, "boot1-again", {.tpm = "boot1"});
  EXPECT_NE(log.find("EFTEST var-data=written-on-slot-A"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST done"), std::string::npos) << log;
}

// Acceptance 2: a kernel image signed with another key is refused by the
// firmware; nothing boots.
TEST_F(SecureBootE2E, AKernelImageSignedWithAForeignKeyIsRefusedByTheFirmware) {
  fs::path disk = disk_copy("boot2");
  fs::path uki = dir() / "foreign.efi";
  ASSERT_TRUE(mcopy_out(disk, "/slot-a/edgeforge.efi", uki));
  ASSERT_TRUE(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=foreign -keyout " +
                 (dir() / "foreign.key").string() + " -out " + (dir() / "foreign.crt").string() +
                 " 2>/dev/null"));
  ASSERT_TRUE(sh("sbattach --remove " + uki.string()));
  ASSERT_TRUE(sh("sbsign --key " + (dir() / "foreign.key").string() + " --cert " +
                 (dir() / "foreign.crt").string() + " --output " + uki.string() + " " +
                 uki.string()));
  ASSERT_TRUE(mcopy_in(disk, uki, "/slot-a/edgeforge.efi"));
  std::string log = boot(disk, "boot2", {.expect_end = false, .seconds = 60});
  EXPECT_NE(log.find("Access Denied"), std::string::npos) << log;
  EXPECT_EQ(log.find("Run /init"), std::string::npos) << "a kernel started\n" << log;
  EXPECT_EQ(log.find("EFTEST"), std::string::npos) << log;
}

// Acceptance 3: a command line added on the ESP (the boot entry's options)
// has no effect: the stub boots the signed command line. Before it, the same
// disk on a machine without a TPM refuses to boot (the documented default).
TEST_F(SecureBootE2E, ACommandLineEditedOnTheEspHasNoEffect) {
  fs::path disk = disk_copy("boot3");
  // First, without a TPM (spec.secureBoot.withoutTpm: refuse, the default):
  // the boot stops in one line and the partition stays blank.
  std::string refused = boot(disk, "boot3-no-tpm", {.tpm = kNoTpm});
  EXPECT_NE(refused.find("edgeforge: no TPM 2.0 (no /dev/tpmrm0)"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("EFTEST"), std::string::npos) << refused;
  auto probed = run_command("blkid -p -O " + std::to_string(kPersist) + " -S " +
                            std::to_string(kPersistSize) + " " + disk.string());
  EXPECT_EQ(probed.status, 2) << "the persistent partition is not blank\n" << probed.out;
  // systemd-boot counted that boot of confirmed slot A.
  std::string a = entry_name(disk, "a");
  EXPECT_EQ(a, "edgeforge-slot-a-good+2-1.conf");
  fs::path entry = dir() / "entry.conf";
  ASSERT_TRUE(mcopy_out(disk, "/loader/entries/" + a, entry));
  std::ofstream(entry, std::ios::app) << "options init=/bin/sh edgeforge.tampered=1\n";
  ASSERT_TRUE(mcopy_in(disk, entry, "/loader/entries/" + a));
  std::string log = boot(disk, "boot3");
  EXPECT_EQ(log.find("edgeforge.tampered"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST target=active"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST done"), std::string::npos) << log;
  // The healthy boot re-armed A's counter.
  EXPECT_EQ(entry_name(disk, "a"), "edgeforge-slot-a-good+3.conf");
}

// Acceptance 4: one flipped byte in slot A's squashfs, on a device where
// both slots are confirmed: dm-verity stops every boot of A (kernel panic,
// reboot), systemd-boot counts A's armed tries down and boots slot B, which
// holds the same signed system, and the agent there marks A bad.
TEST_F(SecureBootE2E, AFlippedByteInTheSlotFailsVerityAndTheDeviceFallsBack) {
  fs::path disk = disk_copy("boot4");
  // Slot B: the same payload (image and tree) and kernel image as slot A.
  ASSERT_TRUE(sh("dd if=" + disk.string() + " of=" + disk.string() + " bs=1M skip=" +
                 std::to_string(kSlotA / kMiB) + " seek=" + std::to_string(kSlotB / kMiB) +
                 " count=512 conv=notrunc,sparse status=none"));
  fs::path uki = dir() / "slot.efi";
  ASSERT_TRUE(mcopy_out(disk, "/slot-a/edgeforge.efi", uki));
  ASSERT_TRUE(sh("MTOOLS_SKIP_CHECK=1 mmd -i " + esp(disk) + " ::/slot-b"));
  ASSERT_TRUE(mcopy_in(disk, uki, "/slot-b/edgeforge.efi"));
  // B confirmed, second (device/boot_entries.hpp); A as built: confirmed, first.
  fs::path b = dir() / "b.conf";
  ASSERT_TRUE(write_file_atomic(
      b, "title edgeforge slot B\nsort-key edgeforge-2\nefi /slot-b/edgeforge.efi\n"));
  ASSERT_TRUE(mcopy_in(disk, b, "/loader/entries/edgeforge-slot-b-good+3.conf"));
  // One healthy boot of A: the agent's journal records it good.
  std::string log = boot(disk, "boot4-healthy");
  ASSERT_NE(log.find("EFTEST done"), std::string::npos) << log;
  // The squashfs superblock's first byte: read by the first mount.
  {
    std::fstream f(disk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(kSlotA));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(kSlotA));
    f.put(static_cast<char>(c ^ 0x01));
  }
  log = boot(disk, "boot4",
             {.allow_reboot = true, .seconds = 3 * kBootSeconds, .tpm = "boot4-healthy"});
  EXPECT_NE(log.find("verity"), std::string::npos) << log;
  EXPECT_NE(log.find("Kernel panic"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST booted-slot=B"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST dm-name=edgeforge-root under=vda3"), std::string::npos) << log;
  EXPECT_NE(log.find("slot A (0.1.0) failed 3 boots in a row"), std::string::npos) << log;
  // A has no tries left and comes last; B first, re-armed.
  EXPECT_EQ(entry_name(disk, "a"), "edgeforge-slot-a+0.conf");
  EXPECT_EQ(entry_name(disk, "b"), "edgeforge-slot-b-good+3.conf");
}

// Acceptance 5: an A/B upgrade with a signed bundle boots the new slot with
// Secure Boot on, through the kernel image the bundle carried, opens the
// sealed persistent partition with what slot A wrote, and the healthy slot
// is marked good.
TEST_F(SecureBootE2E, AnUpgradeBootsTheNewSlotWithSecureBootAndMarksItGood) {
  fs::path disk = disk_copy("boot5");
  std::string log =
      boot(disk, "boot5",
           {.allow_reboot = true, .seconds = 3 * kBootSeconds, .second_disk = bundles_disk()});
  EXPECT_NE(log.find("EFTEST upgrading"), std::string::npos) << log;
  EXPECT_NE(log.find("signed kernel image to"), std::string::npos) << log;
  EXPECT_EQ(log.find("EFTEST upgrade failed"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST booted-slot=B"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST version=0.2.0"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST secureboot=1"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST dm-name=edgeforge-root under=vda3"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST boot-check=inactive"), std::string::npos) << log;
  // The sealed partition opened on the new slot with what slot A wrote.
  EXPECT_NE(log.find("EFTEST persist-dm-uuid=CRYPT-LUKS2-"), std::string::npos) << log;
  EXPECT_NE(log.find("EFTEST var-data=written-on-slot-A"), std::string::npos) << log;
  // Marked good: B's entry lost its counter and comes first; the kernel
  // image on the ESP is the one the build signed.
  EXPECT_EQ(entry_name(disk, "b"), "edgeforge-slot-b-good+3.conf");
  EXPECT_EQ(entry_name(disk, "a"), "edgeforge-slot-a-good+3.conf");
  fs::path b = dir() / "slot-b.efi";
  ASSERT_TRUE(mcopy_out(disk, "/slot-b/edgeforge.efi", b));
  EXPECT_EQ(*read_file(b), *read_file(dir() / "out/sb-e2e-0.2.0.efi"));
}

}  // namespace
}  // namespace ef::test
