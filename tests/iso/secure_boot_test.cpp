// The Secure Boot disk from a small synthetic image: what the firmware and
// the initramfs will be given, checked with sbverify, objcopy, veritysetup,
// fsck.vfat and mtools (none of them written here). Booting it is
// secure_boot_e2e_test.cpp.
#include "iso/secure_boot.hpp"

#include <gtest/gtest.h>

#include "iso/disk_image.hpp"
#include "signing/authenticode.hpp"
#include "signing/verity.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

class SecureBootDiskTest : public TempDirTest {
 protected:
  void SetUp() override {
    tmp.write("root/boot/vmlinuz-6.1.0-2-amd64", std::string(100000, 'k'));
    tmp.write("root/boot/initrd.img-6.1.0-2-amd64", std::string(200001, 'i'));
    tmp.write("root/usr/lib/os-release", "ID=debian\nVERSION_ID=12\n");
    tmp.write("root/usr/lib/edgeforge/boot/edgeforge.cpio", std::string(3000, 'c'));
    make_image("root", image());
    ASSERT_EQ(run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=db "
                          "-keyout " +
                          (tmp / "db.key").string() + " -out " + (tmp / "db.crt").string() +
                          " 2>/dev/null")
                  .status,
              0);
  }
  void make_image(const std::string& root, const fs::path& out) {
    ASSERT_EQ(run_command("mksquashfs " + (tmp / root).string() + " " + out.string() +
                          " -quiet -no-progress -mkfs-time 0 -all-time 0 -noappend")
                  .status,
              0);
  }
  fs::path image() const { return tmp / "slot.squashfs"; }

  // The spec `edgeforge build` makes for spec.secureBoot (builder/build/disk_outputs.cpp).
  iso::DiskSpec spec(const fs::path& squashfs) {
    iso::DiskSpec s;
    s.squashfs = squashfs;
    s.layout = {16 * iso::kMiB, 8 * iso::kMiB, 16 * iso::kMiB};
    s.epoch = 1747699200;
    s.persistent_paths = {"/home"};
    iso::SecureBootSpec sb;
    sb.verity_tree = tmp / (squashfs.stem().string() + ".tree");
    auto tree = signing::build_verity_tree(squashfs, sb.verity_tree, 0);
    EXPECT_TRUE(tree) << (tree ? "" : tree.error().message());
    if (tree)
      sb.verity = {tree->root_hash_hex, tree->salt_hex, tree->data_blocks,
                   tree->data_blocks * tree->data_block_size};
    auto signer = signing::PeSigner::load((tmp / "db.key").string(), tmp / "db.crt");
    EXPECT_TRUE(signer) << (signer ? "" : signer.error().message());
    auto shared = std::make_shared<signing::PeSigner>(std::move(*signer));
    sb.sign = [shared](std::string_view pe) { return shared->sign(pe); };
    s.secure_boot = std::move(sb);
    return s;
  }
  std::string esp(const fs::path& disk) const {
    return disk.string() + "@@" + std::to_string(iso::kMiB);
  }
  fs::path esp_file(const fs::path& disk, const std::string& path, const std::string& name) {
    fs::path out = tmp / name;
    EXPECT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mcopy -o -i " + esp(disk) + " ::" + path + " " +
                          out.string())
                  .status,
              0)
        << path;
    return out;
  }
};

TEST_F(SecureBootDiskTest, TheFirmwareGetsSignedProgramsAndTheKernelTheSlotsRootHash) {
  fs::path disk = tmp / "disk.raw";
  iso::DiskSpec s = spec(image());
  auto info = iso::build_raw_disk(s, disk, tmp / "work");
  ASSERT_TRUE(info) << info.error().message();
  for (const auto& [path, name] :
       {std::pair{"/EFI/BOOT/BOOTX64.EFI", "boot.efi"}, {"/slot-a/edgeforge.efi", "uki.efi"}}) {
    fs::path f = esp_file(disk, path, name);
    auto v =
        run_command("sbverify --cert " + (tmp / "db.crt").string() + " " + f.string() + " 2>&1");
    EXPECT_EQ(v.status, 0) << path << ": " << v.out;
  }
  EXPECT_EQ(*read_file(esp_file(disk, "/loader/loader.conf", "loader.conf")), iso::loader_conf());
  std::string entry =
      *read_file(esp_file(disk, "/loader/entries/edgeforge-slot-a-good+3.conf", "a.conf"));
  EXPECT_NE(entry.find("efi /slot-a/edgeforge.efi"), std::string::npos) << entry;
  // The persistent partition (the fourth) is blank: the device seals it to
  // its TPM at first boot; blkid finds no signature there.
  const iso::Partition& persist = info->partitions[3];
  EXPECT_EQ(persist.name, iso::kPersistentLabel);
  auto probed = run_command("blkid -p -O " + std::to_string(persist.offset) + " -S " +
                            std::to_string(persist.size) + " " + disk.string());
  EXPECT_EQ(probed.status, 2) << probed.out;
  // No GRUB on a Secure Boot disk.
  EXPECT_NE(run_command("MTOOLS_SKIP_CHECK=1 mdir -i " + esp(disk) + " ::/grub 2>&1").status, 0);
  EXPECT_EQ(run_command("dd if=" + disk.string() + " of=" + (tmp / "esp.img").string() +
                        " bs=1M skip=1 count=16 status=none && fsck.vfat -n " +
                        (tmp / "esp.img").string() + " >/dev/null")
                .status,
            0);

  // The kernel image's command line, as objcopy extracts it.
  fs::path uki = tmp / "uki.efi";
  ASSERT_EQ(run_command("objcopy -O binary --only-section=.cmdline " + uki.string() + " " +
                        (tmp / "cmdline").string())
                .status,
            0);
  const iso::SlotVerity& v = s.secure_boot->verity;
  EXPECT_EQ(*read_file(tmp / "cmdline"), iso::uki_cmdline(*s.secure_boot, iso::kDefaultCmdline));
  EXPECT_NE(read_file(tmp / "cmdline")->find("edgeforge.verity=" + v.root_hash_hex + " "),
            std::string::npos);
  // The persistent partition's policy is signed with the rest.
  EXPECT_NE(read_file(tmp / "cmdline")->find(" edgeforge.persist=tpm2 "), std::string::npos);
  iso::SecureBootSpec plain = *s.secure_boot;
  plain.plain_without_tpm = true;
  EXPECT_NE(iso::uki_cmdline(plain, "").find(" edgeforge.persist=tpm2-or-plain"),
            std::string::npos);
  ASSERT_EQ(run_command("objcopy -O binary --only-section=.initrd " + uki.string() + " " +
                        (tmp / "initrd").string())
                .status,
            0);
  // Debian's initrd, zero padding to a 4-byte boundary, the image's own addition.
  EXPECT_EQ(*read_file(tmp / "initrd"),
            std::string(200001, 'i') + std::string(3, '\0') + std::string(3000, 'c'));

  // Slot A: the image, then its tree where the command line says, checked by veritysetup.
  fs::path slot = tmp / "slot-a.img";
  ASSERT_EQ(run_command("dd if=" + disk.string() + " of=" + slot.string() +
                        " bs=1M skip=" + std::to_string(info->partitions[1].offset / iso::kMiB) +
                        " count=8 status=none")
                .status,
            0);
  auto verified = run_command(
      "veritysetup verify --no-superblock --hash=sha256 --data-block-size=4096 "
      "--hash-block-size=4096 --data-blocks=" +
      std::to_string(v.data_blocks) + " --hash-offset=" + std::to_string(v.hash_offset) +
      " --salt=" + v.salt_hex + " " + slot.string() + " " + slot.string() + " " + v.root_hash_hex +
      " 2>&1");
  EXPECT_EQ(verified.status, 0) << verified.out;
}

TEST_F(SecureBootDiskTest, TheSameImageAndKeyGiveTheSameDiskBytes) {
  ASSERT_TRUE(iso::build_raw_disk(spec(image()), tmp / "one.raw", tmp / "work1"));
  ASSERT_TRUE(iso::build_raw_disk(spec(image()), tmp / "two.raw", tmp / "work2"));
  EXPECT_EQ(*sha256_file(tmp / "one.raw"), *sha256_file(tmp / "two.raw"));
}

TEST_F(SecureBootDiskTest, AnImageWithoutTheInitramfsAdditionIsRefused) {
  fs::remove(tmp / "root/usr/lib/edgeforge/boot/edgeforge.cpio");
  make_image("root", tmp / "bare.squashfs");
  auto info = iso::build_raw_disk(spec(tmp / "bare.squashfs"), tmp / "disk.raw", tmp / "work");
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message().find("spec.agent.enabled"), std::string::npos)
      << info.error().message();
  EXPECT_FALSE(fs::exists(tmp / "disk.raw")) << "no half-written disk";
}

TEST_F(SecureBootDiskTest, AMissingStubNamesThePackageToInstall) {
  iso::DiskSpec s = spec(image());
  s.secure_boot->stub = tmp / "no-stub.efi";
  auto info = iso::build_raw_disk(s, tmp / "disk.raw", tmp / "work");
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message().find("install systemd-boot-efi"), std::string::npos)
      << info.error().message();
}

TEST_F(SecureBootDiskTest, AnEspTooSmallForTwoKernelImagesNamesTheKey) {
  tmp.write("root/boot/initrd.img-6.1.0-2-amd64", std::string(9 << 20, 'i'));
  make_image("root", tmp / "big.squashfs");
  iso::DiskSpec s = spec(tmp / "big.squashfs");
  s.layout.slot_size = 32 * iso::kMiB;
  auto info = iso::build_raw_disk(s, tmp / "disk.raw", tmp / "work");
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message().find("spec.output.disk.espSize"), std::string::npos)
      << info.error().message();
}

}  // namespace
}  // namespace ef::test
