// The extra initramfs cpio, listed and unpacked by GNU cpio (the oracle).
#include "iso/initramfs.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

class InitramfsTest : public TempDirTest {};

iso::ExtraInitramfs spec() {
  return {{{"squashfs.ko", "SQ"}, {"overlay.ko", "OV"}},
          {"/home", "/var/lib/containerd"},
          1747699200,
          {}};
}

TEST_F(InitramfsTest, CpioHoldsScriptModulesAndPaths) {
  auto cpio = iso::build_extra_initramfs(spec());
  ASSERT_TRUE(cpio.ok()) << cpio.error().message();
  EXPECT_TRUE(cpio->starts_with("070701"));  // newc magic, as the kernel wants
  auto file = tmp.write("extra.cpio", *cpio);
  auto listed = run_command("cpio -it --quiet < " + file.string());
  ASSERT_EQ(listed.status, 0);
  EXPECT_EQ(
      listed.out,
      "edgeforge\nedgeforge/modules\nedgeforge/modules/squashfs.ko\nedgeforge/modules/overlay.ko\n"
      "edgeforge/modules/order\nedgeforge/persistent-paths\nscripts\nscripts/edgeforge\n");
  ASSERT_EQ(run_command("mkdir -p " + (tmp / "x").string() + " && cd " + (tmp / "x").string() +
                        " && cpio -id --quiet < " + file.string())
                .status,
            0);
  EXPECT_EQ(read_file(tmp / "x/edgeforge/modules/order").value(), "squashfs.ko\noverlay.ko\n");
  EXPECT_EQ(read_file(tmp / "x/edgeforge/persistent-paths").value(),
            "/home\n/var/lib/containerd\n");
  auto script = read_file(tmp / "x/scripts/edgeforge");
  ASSERT_TRUE(script.ok());
  EXPECT_NE(script->find("mountroot()"), std::string::npos);
  // initramfs-tools runs it with busybox/dash: it must at least parse.
  EXPECT_EQ(run_command("sh -n " + (tmp / "x/scripts/edgeforge").string()).status, 0);
  EXPECT_EQ(run_command("test -x " + (tmp / "x/scripts/edgeforge").string()).status, 0);
}

TEST_F(InitramfsTest, SameInputsSameBytes) {
  EXPECT_EQ(iso::build_extra_initramfs(spec()).value(), iso::build_extra_initramfs(spec()).value());
  auto other = spec();
  other.epoch += 1;
  EXPECT_NE(iso::build_extra_initramfs(spec()).value(), iso::build_extra_initramfs(other).value());
}

TEST_F(InitramfsTest, RejectsRelativePersistentPaths) {
  auto bad = spec();
  bad.persistent_paths = {"var/lib"};
  EXPECT_FALSE(iso::build_extra_initramfs(bad).ok());
  bad.persistent_paths = {"/"};
  EXPECT_FALSE(iso::build_extra_initramfs(bad).ok());
}

}  // namespace
}  // namespace ef::test
