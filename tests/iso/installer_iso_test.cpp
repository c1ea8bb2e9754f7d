// The installer ISO from a small synthetic image, checked with xorriso (El
// Torito entries, hybrid MBR/GPT, Rock Ridge/Joliet tree) and rebuilt for
// identical bytes.
#include "iso/installer_iso.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

class InstallerIsoTest : public TempDirTest {
 protected:
  void SetUp() override {
    tmp.write("root/boot/vmlinuz-6.1.0-2-amd64", std::string(100000, 'k'));
    tmp.write("root/boot/initrd.img-6.1.0-2-amd64", std::string(200000, 'i'));
    tmp.write("root/usr/lib/modules/6.1.0-2-amd64/modules.dep",
              "kernel/fs/squashfs/squashfs.ko:\nkernel/fs/overlayfs/overlay.ko:\nkernel/fs/isofs/isofs.ko:\n");
    for (const char* m : {"squashfs/squashfs.ko", "overlayfs/overlay.ko", "isofs/isofs.ko"})
      tmp.write(std::string("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/") + m, m);
    ASSERT_EQ(run_command("mksquashfs " + (tmp / "root").string() + " " + (tmp / "os.squashfs").string() +
                          " -quiet -no-progress -mkfs-time 0 -all-time 0")
                  .status, 0);
    tmp.write("site.yaml", "endpoint: https://fleet.example\n");
  }
  iso::IsoSpec spec() const { return {tmp / "os.squashfs", 1747699200, "console=ttyS0", 5, {tmp / "site.yaml"}}; }
};

TEST_F(InstallerIsoTest, XorrisoSeesBiosAndUefiEntriesHybridTableAndFiles) {
  auto info = iso::build_installer_iso(spec(), tmp / "a.iso", tmp / "work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_TRUE(info->volume_id.starts_with("EDGEFORGE_"));
  auto iso = (tmp / "a.iso").string();
  auto torito = run_command("xorriso -indev " + iso + " -report_el_torito plain 2>/dev/null");
  EXPECT_NE(torito.out.find("El Torito boot img :   1  BIOS  y   none"), std::string::npos) << torito.out;
  EXPECT_NE(torito.out.find("El Torito boot img :   2  UEFI  y   none"), std::string::npos) << torito.out;
  EXPECT_NE(torito.out.find("boot-info-table grub2-boot-info"), std::string::npos) << torito.out;
  auto area = run_command("xorriso -indev " + iso + " -report_system_area plain 2>/dev/null");
  EXPECT_NE(area.out.find("grub2-mbr"), std::string::npos) << area.out;
  EXPECT_NE(area.out.find("/boot/grub/efi.img"), std::string::npos) << area.out;  // ESP in the GPT
  auto tree = run_command("xorriso -indev " + iso + " -find / -type f 2>/dev/null");
  for (const char* f : {"'/boot/vmlinuz'", "'/boot/initrd.img'", "'/boot/edgeforge.cpio'", "'/boot/grub/grub.cfg'",
                        "'/edgeforge/rootfs.squashfs'", "'/edgeforge/site/site.yaml'"})
    EXPECT_NE(tree.out.find(f), std::string::npos) << f << "\n" << tree.out;
  // Joliet and Rock Ridge are both present (isoinfo-free check via xorriso).
  auto pvd = run_command("xorriso -indev " + iso + " -pvd_info 2>/dev/null");
  EXPECT_NE(pvd.out.find(info->volume_id), std::string::npos) << pvd.out;
  auto rr = run_command("xorriso -indev " + iso + " -rr_reloc_dir '' -lsl /edgeforge 2>/dev/null");
  EXPECT_NE(rr.out.find("rootfs.squashfs"), std::string::npos);
  auto cfg = run_command("xorriso -osirrox on -indev " + iso + " -extract /boot/grub/grub.cfg " +
                         (tmp / "grub.cfg").string() + " >/dev/null 2>&1 && cat " + (tmp / "grub.cfg").string());
  EXPECT_NE(cfg.out.find("edgeforge.live=" + info->volume_id), std::string::npos) << cfg.out;
  EXPECT_NE(cfg.out.find("edgeforge.install=1"), std::string::npos);
  EXPECT_EQ(run_command("grub-script-check " + (tmp / "grub.cfg").string()).status, 0);
}

TEST_F(InstallerIsoTest, SameInputsSameBytes) {
  ASSERT_TRUE(iso::build_installer_iso(spec(), tmp / "a.iso", tmp / "wa").ok());
  ASSERT_TRUE(iso::build_installer_iso(spec(), tmp / "b.iso", tmp / "wb").ok());
  EXPECT_EQ(sha256_file(tmp / "a.iso").value(), sha256_file(tmp / "b.iso").value());
}

}  // namespace
}  // namespace ef::test
