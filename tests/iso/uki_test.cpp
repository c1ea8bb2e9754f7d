// Tests for unified kernel images: binutils (objdump, objcopy) are the
// oracle for what the stub will find in them.
#include "iso/uki.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/command.hpp"
#include "tests/support/pe_oracle.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::iso {
namespace {

namespace fs = std::filesystem;
using test::run_command;

using test::kSystemdStub;

// The section names `objdump -h` lists, in order.
std::vector<std::string> objdump_section_names(const fs::path& file) {
  std::vector<std::string> names;
  for (const auto& section : test::objdump_sections(file)) names.push_back(section.name);
  return names;
}

class UkiTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    if (!fs::exists(kSystemdStub))
      GTEST_SKIP() << kSystemdStub << " missing (install systemd-boot-efi)";
    if (!test::have_tool("objdump") || !test::have_tool("objcopy"))
      GTEST_SKIP() << "objdump/objcopy missing (install binutils)";
    kernel_ = std::string("MZ fake kernel ") + std::string(40000, 'k');
    parts_.stub = kSystemdStub;
    parts_.os_release = "ID=edgeforge\nVERSION_ID=1.2.3\n";
    parts_.cmdline = "console=ttyS0 edgeforge.verity=abc";
    parts_.kernel = tmp.write("vmlinuz", kernel_);
    parts_.initrds = {tmp.write("initrd.img", std::string(1001, '1')),
                      tmp.write("extra.cpio", std::string(777, '2'))};
  }

  std::string section(const fs::path& file, const std::string& name) {
    return test::objcopy_section(file, name, tmp.path());
  }

  std::string kernel_;
  UkiParts parts_;
};

TEST_F(UkiTest, CarriesEveryPartAsASection) {
  auto uki = build_uki(parts_);
  ASSERT_TRUE(uki) << uki.error().message();
  fs::path file = tmp.write("uki.efi", *uki);

  auto names = objdump_section_names(file);
  ASSERT_GE(names.size(), 4u);
  std::vector<std::string> last(names.end() - 4, names.end());
  EXPECT_EQ(last, (std::vector<std::string>{".osrel", ".cmdline", ".linux", ".initrd"}));
  EXPECT_EQ(section(file, ".osrel"), parts_.os_release);
  EXPECT_EQ(section(file, ".cmdline"), parts_.cmdline);
  EXPECT_EQ(section(file, ".linux"), kernel_);
  // The second archive starts at a 4-byte boundary, as the kernel looks for it.
  EXPECT_EQ(section(file, ".initrd"),
            std::string(1001, '1') + std::string(3, '\0') + std::string(777, '2'));
  // The stub's code is still there.
  EXPECT_EQ(names.front(), ".text");
}

TEST_F(UkiTest, LeavesOutEmptyParts) {
  parts_.cmdline.clear();
  parts_.os_release.clear();
  parts_.initrds.clear();
  auto uki = build_uki(parts_);
  ASSERT_TRUE(uki) << uki.error().message();
  auto names = objdump_section_names(tmp.write("uki.efi", *uki));
  EXPECT_EQ(names.back(), ".linux");
  for (const char* absent : {".cmdline", ".osrel", ".initrd"})
    EXPECT_EQ(std::find(names.begin(), names.end(), absent), names.end()) << absent;
}

TEST_F(UkiTest, IsDeterministic) {
  auto first = build_uki(parts_);
  auto second = build_uki(parts_);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
}

TEST_F(UkiTest, ErrorsNameTheFile) {
  auto expect_error = [&](UkiParts parts, const std::string& what) {
    auto r = build_uki(parts);
    ASSERT_FALSE(r) << what;
    EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
  };
  UkiParts no_stub = parts_;
  no_stub.stub = tmp / "missing.stub";
  expect_error(no_stub, (tmp / "missing.stub").string());

  UkiParts no_kernel = parts_;
  no_kernel.kernel = tmp / "missing-vmlinuz";
  expect_error(no_kernel, (tmp / "missing-vmlinuz").string());

  UkiParts empty_kernel = parts_;
  empty_kernel.kernel = tmp.write("empty-vmlinuz", "");
  expect_error(empty_kernel, "empty-vmlinuz is empty");

  UkiParts no_initrd = parts_;
  no_initrd.initrds.push_back(tmp / "missing.cpio");
  expect_error(no_initrd, (tmp / "missing.cpio").string());

  UkiParts not_a_stub = parts_;
  not_a_stub.stub = tmp.write("stub.txt", "not a PE file");
  expect_error(not_a_stub, "UKI stub " + (tmp / "stub.txt").string() + ": malformed PE image");
}

}  // namespace
}  // namespace ef::iso
