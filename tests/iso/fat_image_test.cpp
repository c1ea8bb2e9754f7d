// FAT images via mtools, checked by fsck.fat and read back with mtype.
#include "iso/fat_image.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

class FatImageTest : public TempDirTest {};

iso::FatSpec spec(uint64_t size) {
  return {
      size,
      "EFTEST",
      0x1234abcd,
      1747699200,
      {{"/grub/grub.cfg", "set timeout=1\n"}, {"/EFI/BOOT/BOOTX64.EFI", std::string(300000, 'x')}}};
}

TEST_F(FatImageTest, FsckCleanFilesReadBackReproducible) {
  for (uint64_t size : {4ull << 20, 64ull << 20}) {
    auto a = tmp / "a.img", b = tmp / "b.img";
    ASSERT_TRUE(iso::make_fat_image(spec(size), a, tmp.path()).ok());
    EXPECT_EQ(run_command("fsck.vfat -n " + a.string() + " >/dev/null").status, 0);
    auto cfg = run_command("MTOOLS_SKIP_CHECK=1 mtype -i " + a.string() + " ::/grub/grub.cfg");
    EXPECT_EQ(cfg.out, "set timeout=1\n");
    auto info =
        run_command("MTOOLS_SKIP_CHECK=1 minfo -i " + a.string() + " :: | grep -i 'serial number'");
    EXPECT_NE(info.out.find("1234ABCD"), std::string::npos) << info.out;
    ASSERT_TRUE(iso::make_fat_image(spec(size), b, tmp.path()).ok());
    EXPECT_EQ(sha256_file(a).value(), sha256_file(b).value()) << size;
  }
  EXPECT_EQ(iso::fat_uuid(0x1234abcd), "1234-ABCD");
}

TEST_F(FatImageTest, TooSmallIsAnError) {
  auto s = spec(1 << 20);
  s.files.push_back({"/big", std::string(2 << 20, 'y')});
  auto r = iso::make_fat_image(s, tmp / "c.img", tmp.path());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(iso::make_fat_image(spec(1000), tmp / "d.img", tmp.path()).ok());
  EXPECT_GE(iso::fat_size_for(s.files), 4u << 20);
}

}  // namespace
}  // namespace ef::test
