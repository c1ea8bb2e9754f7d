// The one rule for which kernel boots: Debian version order (dpkg is the
// oracle), the /vmlinuz link, the initrd that goes with the kernel.
#include "image/boot_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::image {
namespace {

// Pairs dpkg orders in ways a byte or naive numeric comparison does not.
const std::vector<std::pair<std::string, std::string>> kPairs = {
    {"6.1.0-9-amd64", "6.1.0-10-amd64"},
    {"6.1.0-10-amd64", "6.1.0-10-cloud-amd64"},
    {"6.1.0-10-amd64", "6.1.0-10-rt-amd64"},
    {"6.12~rc1", "6.12"},
    {"6.12~rc1", "6.12~rc2"},
    {"6.12~~", "6.12~"},
    {"6.12", "6.12+b1"},
    {"6.12", "6.12.0"},
    {"6.12a", "6.12.0"},
    {"1.0", "1.0-0"},
    {"1.00", "1.0"},
    {"1:1.0", "2.0"},
    {"2:0.1", "1:9.9"},
    {"5.15.0-100-generic", "5.15.0-99-generic"},
    {"6.8.0-31-generic", "6.8.0-31-lowlatency"},
    {"1.0-1", "1.0-1.1"},
    {"1.0-a", "1.0-A"},
    {"1.0.", "1.0+"},
    {"1.2.3", "1.2.3"},
};

int sign(int v) {
  return (v > 0) - (v < 0);
}

TEST(DebianVersionTest, AgreesWithDpkg) {
  if (!test::have_tool("dpkg")) GTEST_SKIP() << "dpkg is not installed";
  for (const auto& [a, b] : kPairs) {
    for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      int dpkg = 0;
      if (test::run_command("dpkg --compare-versions '" + x + "' lt '" + y + "' 2>/dev/null")
              .status == 0)
        dpkg = -1;
      else if (test::run_command("dpkg --compare-versions '" + x + "' gt '" + y + "' 2>/dev/null")
                   .status == 0)
        dpkg = 1;
      EXPECT_EQ(sign(compare_debian_versions(x, y)), dpkg) << x << " vs " << y;
    }
  }
}

TEST(DebianVersionTest, KnownOrders) {
  EXPECT_LT(compare_debian_versions("6.1.0-9-amd64", "6.1.0-10-amd64"), 0);
  EXPECT_LT(compare_debian_versions("6.12~rc1", "6.12"), 0);
  EXPECT_GT(compare_debian_versions("1:1.0", "9.0"), 0);
  EXPECT_EQ(compare_debian_versions("1.0", "1.00"), 0);
}

ImageEntry entry(std::string path, NodeType type = NodeType::regular, std::string target = "") {
  ImageEntry e;
  e.path = std::move(path);
  e.type = type;
  e.target = std::move(target);
  return e;
}

std::vector<ImageEntry> two_kernels() {
  return {entry("/", NodeType::directory),          entry("/boot", NodeType::directory),
          entry("/boot/initrd.img-6.1.0-10-amd64"), entry("/boot/initrd.img-6.1.0-9-amd64"),
          entry("/boot/vmlinuz-6.1.0-10-amd64"),    entry("/boot/vmlinuz-6.1.0-9-amd64")};
}

TEST(ChooseBootFilesTest, HighestDebianVersionWithoutALink) {
  auto chosen = choose_boot_files(two_kernels());
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->kernel, "/boot/vmlinuz-6.1.0-10-amd64");
  EXPECT_EQ(chosen->initrd, "/boot/initrd.img-6.1.0-10-amd64");
  EXPECT_EQ(chosen->version, "6.1.0-10-amd64");
}

TEST(ChooseBootFilesTest, FollowsTheVmlinuzLinkAndTakesItsInitrd) {
  for (const char* target : {"boot/vmlinuz-6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-9-amd64"}) {
    auto entries = two_kernels();
    entries.push_back(entry("/vmlinuz", NodeType::symlink, target));
    // A stale /initrd.img link does not split the pair.
    entries.push_back(entry("/initrd.img", NodeType::symlink, "boot/initrd.img-6.1.0-10-amd64"));
    auto chosen = choose_boot_files(entries);
    ASSERT_TRUE(chosen);
    EXPECT_EQ(chosen->kernel, "/boot/vmlinuz-6.1.0-9-amd64") << target;
    EXPECT_EQ(chosen->initrd, "/boot/initrd.img-6.1.0-9-amd64") << target;
  }
}

TEST(ChooseBootFilesTest, ADanglingLinkFallsBackToTheHighest) {
  auto entries = two_kernels();
  entries.push_back(entry("/vmlinuz", NodeType::symlink, "boot/vmlinuz-5.10.0-1-amd64"));
  auto chosen = choose_boot_files(entries);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->kernel, "/boot/vmlinuz-6.1.0-10-amd64");
}

TEST(ChooseBootFilesTest, NoKernelNoInitrdAndUnversionedKernels) {
  EXPECT_FALSE(choose_boot_files({entry("/", NodeType::directory), entry("/etc/hostname")}));
  auto no_initrd = choose_boot_files({entry("/boot/vmlinuz-6.1.0-9-amd64")});
  ASSERT_TRUE(no_initrd);
  EXPECT_EQ(no_initrd->initrd, "");
  auto plain = choose_boot_files({entry("/vmlinuz"), entry("/initrd.img")});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->kernel, "/vmlinuz");
  EXPECT_EQ(plain->initrd, "/initrd.img");
  EXPECT_EQ(plain->version, "");
}

class FindBootFilesTest : public test::TempDirTest {};

// The reader lists only what the rule needs, and links resolve inside the image.
TEST_F(FindBootFilesTest, ReadsTheChoiceOutOfAnImage) {
  for (const char* v : {"6.1.0-9-amd64", "6.1.0-10-amd64"}) {
    tmp.write(std::string("root/boot/vmlinuz-") + v, v);
    tmp.write(std::string("root/boot/initrd.img-") + v, v);
  }
  auto root = tmp / "root";
  auto make_image = [&](const std::string& name) {
    ASSERT_EQ(test::run_command("mksquashfs " + root.string() + " " + (tmp / name).string() +
                                " -quiet -no-progress")
                  .status,
              0);
  };
  make_image("plain.img");
  std::filesystem::create_symlink("boot/vmlinuz-6.1.0-9-amd64", root / "vmlinuz");
  make_image("linked.img");
  for (auto [name, want] : {std::pair{"plain.img", "/boot/vmlinuz-6.1.0-10-amd64"},
                            std::pair{"linked.img", "/boot/vmlinuz-6.1.0-9-amd64"}}) {
    auto reader = ImageReader::open(tmp / name);
    ASSERT_TRUE(reader.ok()) << reader.error().message();
    auto chosen = find_boot_files(**reader);
    ASSERT_TRUE(chosen.ok()) << chosen.error().message();
    ASSERT_TRUE(*chosen) << name;
    EXPECT_EQ((*chosen)->kernel, want) << name;
  }
}

}  // namespace
}  // namespace ef::image
