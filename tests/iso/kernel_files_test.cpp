// Kernel, initrd and module lookup in an image (made here with mksquashfs).
#include "iso/kernel_files.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::test {
namespace {

class KernelFilesTest : public TempDirTest {};

constexpr const char* kDep =
    "kernel/fs/squashfs/squashfs.ko:\n"
    "kernel/fs/fat/fat.ko:\n"
    "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n"
    "kernel/fs/overlayfs/overlay.ko:\n"
    "kernel/x/a-b.ko.xz: kernel/x/c.ko kernel/x/d.ko\n";

TEST_F(KernelFilesTest, ResolvesDependenciesFirst) {
  auto order = iso::resolve_modules(kDep, {"vfat", "squashfs", "fat", "a_b"});
  ASSERT_TRUE(order.ok()) << order.error().message();
  EXPECT_EQ(*order, (std::vector<std::string>{"kernel/fs/fat/fat.ko", "kernel/fs/fat/vfat.ko",
                                              "kernel/fs/squashfs/squashfs.ko", "kernel/x/d.ko",
                                              "kernel/x/c.ko", "kernel/x/a-b.ko.xz"}));
  EXPECT_FALSE(iso::resolve_modules(kDep, {"nosuch"}).ok());
}

TEST_F(KernelFilesTest, ReadsNewestKernelAndModulesFromImage) {
  auto root = tmp / "root";
  tmp.write("root/boot/vmlinuz-6.1.0-1-amd64", "old kernel");
  tmp.write("root/boot/initrd.img-6.1.0-1-amd64", "old initrd");
  tmp.write("root/boot/vmlinuz-6.1.0-2-amd64", "kernel");
  tmp.write("root/boot/initrd.img-6.1.0-2-amd64", "initrd");
  tmp.write("root/usr/lib/modules/6.1.0-2-amd64/modules.dep", kDep);
  tmp.write("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/squashfs/squashfs.ko", "sq");
  tmp.write("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/overlayfs/overlay.ko", "ov");
  ASSERT_EQ(run_command("mksquashfs " + root.string() + " " + (tmp / "img").string() +
                        " -quiet -no-progress")
                .status,
            0);
  auto files = iso::read_kernel_files(tmp / "img", iso::default_boot_modules());
  ASSERT_TRUE(files.ok()) << files.error().message();
  EXPECT_EQ(files->version, "6.1.0-2-amd64");
  EXPECT_EQ(files->vmlinuz, "kernel");
  EXPECT_EQ(files->initrd, "initrd");
  ASSERT_EQ(files->modules.size(), 2u);
  EXPECT_EQ(files->modules[0].file, "squashfs.ko");
  EXPECT_EQ(files->modules[0].content, "sq");
  EXPECT_EQ(files->modules[1].file, "overlay.ko");
}

TEST_F(KernelFilesTest, ImageWithoutKernelIsAnError) {
  tmp.write("root/etc/hostname", "x\n");
  ASSERT_EQ(run_command("mksquashfs " + (tmp / "root").string() + " " + (tmp / "img").string() +
                        " -quiet -no-progress")
                .status,
            0);
  auto files = iso::read_kernel_files(tmp / "img", {});
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message().find("linux-image"), std::string::npos);
}

}  // namespace
}  // namespace ef::test
