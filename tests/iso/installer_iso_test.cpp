// The installer ISO from a small synthetic image, checked with xorriso (El
// Torito entries, hybrid MBR/GPT, Rock Ridge/Joliet tree) and rebuilt for
// identical bytes.
#include "iso/installer_iso.hpp"

#include <gtest/gtest.h>

#include "device/install_manifest.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

class InstallerIsoTest : public TempDirTest {
 protected:
  void SetUp() override {
    tmp.write("root/boot/vmlinuz-6.1.0-2-amd64", std::string(100000, 'k'));
    tmp.write("root/boot/initrd.img-6.1.0-2-amd64", std::string(200000, 'i'));
    tmp.write("root/usr/lib/modules/6.1.0-2-amd64/modules.dep",
              "kernel/fs/squashfs/squashfs.ko:\nkernel/fs/overlayfs/overlay.ko:\nkernel/fs/isofs/"
              "isofs.ko:\n");
    for (const char* m : {"squashfs/squashfs.ko", "overlayfs/overlay.ko", "isofs/isofs.ko"})
      tmp.write(std::string("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/") + m, m);
    ASSERT_EQ(
        run_command("mksquashfs " + (tmp / "root").string() + " " + (tmp / "os.squashfs").string() +
                    " -quiet -no-progress -mkfs-time 0 -all-time 0")
            .status,
        0);
    tmp.write("site.yaml", "hostname: store-1\n");
  }
  iso::IsoSpec spec() const {
    iso::IsoSpec s;
    s.squashfs = tmp / "os.squashfs";
    s.epoch = 1747699200;
    s.cmdline = "console=ttyS0";
    s.site = tmp / "site.yaml";
    s.layout = {64 << 20, 16 << 20, 16 << 20};
    return s;
  }
};

TEST_F(InstallerIsoTest, XorrisoSeesBiosAndUefiEntriesHybridTableAndFiles) {
  auto info = iso::build_installer_iso(spec(), tmp / "a.iso", tmp / "work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_TRUE(info->volume_id.starts_with("EDGEFORGE_"));
  auto iso = (tmp / "a.iso").string();
  auto torito = run_command("xorriso -indev " + iso + " -report_el_torito plain 2>/dev/null");
  EXPECT_NE(torito.out.find("El Torito boot img :   1  BIOS  y   none"), std::string::npos)
      << torito.out;
  EXPECT_NE(torito.out.find("El Torito boot img :   2  UEFI  y   none"), std::string::npos)
      << torito.out;
  EXPECT_NE(torito.out.find("boot-info-table grub2-boot-info"), std::string::npos) << torito.out;
  auto area = run_command("xorriso -indev " + iso + " -report_system_area plain 2>/dev/null");
  EXPECT_NE(area.out.find("grub2-mbr"), std::string::npos) << area.out;
  EXPECT_NE(area.out.find("/boot/grub/efi.img"), std::string::npos) << area.out;  // ESP in the GPT
  auto tree = run_command("xorriso -indev " + iso + " -find / -type f 2>/dev/null");
  for (const char* f :
       {"'/boot/vmlinuz'", "'/boot/initrd.img'", "'/boot/edgeforge.cpio'", "'/boot/grub/grub.cfg'",
        "'/edgeforge/rootfs.squashfs'", "'/edgeforge/site/site.yaml'", "'/edgeforge/install.json'",
        "'/edgeforge/esp/EFI/BOOT/BOOTX64.EFI'", "'/edgeforge/esp/grub/grub.cfg'",
        "'/edgeforge/esp/grub/grubenv'", "'/edgeforge/esp/slot-a/edgeforge.cpio'",
        "'/edgeforge/bios/mbr.img'", "'/edgeforge/bios/core.img'"})
    EXPECT_NE(tree.out.find(f), std::string::npos) << f << "\n" << tree.out;
  // Joliet and Rock Ridge are both present (isoinfo-free check via xorriso).
  auto pvd = run_command("xorriso -indev " + iso + " -pvd_info 2>/dev/null");
  EXPECT_NE(pvd.out.find(info->volume_id), std::string::npos) << pvd.out;
  auto rr = run_command("xorriso -indev " + iso + " -rr_reloc_dir '' -lsl /edgeforge 2>/dev/null");
  EXPECT_NE(rr.out.find("rootfs.squashfs"), std::string::npos);
  auto cfg = run_command("xorriso -osirrox on -indev " + iso + " -extract /boot/grub/grub.cfg " +
                         (tmp / "grub.cfg").string() + " >/dev/null 2>&1 && cat " +
                         (tmp / "grub.cfg").string());
  EXPECT_NE(cfg.out.find("edgeforge.live=" + info->volume_id), std::string::npos) << cfg.out;
  EXPECT_NE(cfg.out.find("edgeforge.install=1"), std::string::npos);
  EXPECT_EQ(run_command("grub-script-check " + (tmp / "grub.cfg").string()).status, 0);
  // The kernel and initrd on the medium serve the installed ESP as well.
  EXPECT_EQ(tree.out.find("'/edgeforge/esp/slot-a/vmlinuz'"), std::string::npos) << tree.out;
}

// libisofs looks files up from the filesystem root: relative paths are made
// absolute before they reach it.
TEST_F(InstallerIsoTest, RelativePathsWork) {
  struct Cwd {
    std::filesystem::path saved = std::filesystem::current_path();
    ~Cwd() { std::filesystem::current_path(saved); }
  } cwd;
  std::filesystem::current_path(tmp.path());
  auto s = spec();
  s.squashfs = "os.squashfs";
  s.site = "site.yaml";
  auto info = iso::build_installer_iso(s, "rel.iso", "work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  auto tree = run_command("xorriso -indev " + (tmp / "rel.iso").string() +
                          " -find /edgeforge -type f 2>/dev/null");
  EXPECT_NE(tree.out.find("'/edgeforge/rootfs.squashfs'"), std::string::npos) << tree.out;
  EXPECT_NE(tree.out.find("'/edgeforge/site/site.yaml'"), std::string::npos) << tree.out;
}

TEST_F(InstallerIsoTest, InstallPlanMatchesTheRawDiskLayoutAndTheCarriedFiles) {
  ASSERT_TRUE(iso::build_installer_iso(spec(), tmp / "a.iso", tmp / "work").ok());
  ASSERT_EQ(run_command("xorriso -osirrox on -indev " + (tmp / "a.iso").string() + " -extract / " +
                        (tmp / "m").string() + " >/dev/null 2>&1")
                .status,
            0);
  auto text = read_file(tmp / "m/edgeforge/install.json");
  ASSERT_TRUE(text.ok());
  auto m = device::parse_install_manifest(*text, "install.json");
  ASSERT_TRUE(m.ok()) << m.error().message();
  iso::DiskSpec disk;
  disk.squashfs = tmp / "os.squashfs";
  disk.layout = spec().layout;
  auto digest = sha256_file(disk.squashfs).value();
  auto plan = iso::plan_disk(disk, std::filesystem::file_size(disk.squashfs), digest);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(m->disk_guid, plan->disk_guid);
  EXPECT_EQ(m->esp_volume_id, plan->esp_uuid);
  EXPECT_EQ(m->disk_size, plan->size);
  ASSERT_EQ(m->partitions.size(), plan->partitions.size());
  for (size_t i = 0; i < m->partitions.size(); ++i) {
    EXPECT_EQ(m->partitions[i].offset, plan->partitions[i].offset);
    EXPECT_EQ(m->partitions[i].guid, plan->partitions[i].guid);
  }
  EXPECT_EQ(m->image_sha256, digest);
  ASSERT_EQ(m->esp_files.size(), 6u);
  for (const auto& f : m->esp_files) {
    EXPECT_EQ(sha256_file(tmp / "m" / f.source).value(), f.sha256) << f.path;
    if (f.path == "/slot-a/vmlinuz") {
      EXPECT_EQ(f.source, "boot/vmlinuz");
    }
  }
}

TEST_F(InstallerIsoTest, SameInputsSameBytes) {
  ASSERT_TRUE(iso::build_installer_iso(spec(), tmp / "a.iso", tmp / "wa").ok());
  ASSERT_TRUE(iso::build_installer_iso(spec(), tmp / "b.iso", tmp / "wb").ok());
  EXPECT_EQ(sha256_file(tmp / "a.iso").value(), sha256_file(tmp / "b.iso").value());
}

}  // namespace
}  // namespace ef::test
