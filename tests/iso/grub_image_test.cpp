// GRUB images from grub-mkimage: the right format, deterministic.
#include "iso/grub_image.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::test {
namespace {

class GrubImageTest : public TempDirTest {};

TEST_F(GrubImageTest, EfiImageIsPeAndDeterministic) {
  auto a =
      iso::make_grub_image(iso::GrubTarget::efi_x64, "configfile /grub/grub.cfg\n", tmp.path());
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_TRUE(a->starts_with("MZ"));
  auto file = tmp.write("boot.efi", *a);
  auto kind = run_command("file -b " + file.string());
  ASSERT_EQ(kind.status, 0);
  EXPECT_NE(kind.out.find("EFI application"), std::string::npos) << kind.out;
  auto b =
      iso::make_grub_image(iso::GrubTarget::efi_x64, "configfile /grub/grub.cfg\n", tmp.path());
  EXPECT_EQ(*a, b.value());
  auto c = iso::make_grub_image(iso::GrubTarget::efi_x64, "configfile /other.cfg\n", tmp.path());
  EXPECT_NE(*a, c.value());
}

TEST_F(GrubImageTest, EltoritoImageAndHybridMbr) {
  auto img = iso::make_grub_image(iso::GrubTarget::bios_eltorito, "configfile /grub/grub.cfg\n",
                                  tmp.path());
  ASSERT_TRUE(img.ok()) << img.error().message();
  EXPECT_GT(img->size(), 20000u);
  auto mbr = iso::grub_hybrid_mbr();
  ASSERT_TRUE(mbr.ok());
  EXPECT_EQ(mbr->size(), 512u);
}

}  // namespace
}  // namespace ef::test
