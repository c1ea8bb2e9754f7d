// grubenv blocks, checked against GRUB's own grub-editenv in both directions.
#include "device/grubenv.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

class GrubEnvTest : public TempDirTest {};

TEST_F(GrubEnvTest, RenderedBlockIs1024BytesAndGrubEditenvReadsIt) {
  auto block = device::render_grubenv({{"ORDER", "A B"}, {"A_OK", "1"}, {"PATH", "C:\\x"}});
  ASSERT_TRUE(block.ok()) << block.error().message();
  EXPECT_EQ(block->size(), 1024u);
  EXPECT_TRUE(block->starts_with("# GRUB Environment Block\n"));
  EXPECT_EQ(block->back(), '#');
  auto file = tmp.write("grubenv", *block);
  auto listed = run_command("grub-editenv " + file.string() + " list");
  ASSERT_EQ(listed.status, 0);
  EXPECT_EQ(listed.out, "A_OK=1\nORDER=A B\nPATH=C:\\x\n");
}

TEST_F(GrubEnvTest, ParsesWhatGrubEditenvWrites) {
  auto file = tmp / "grubenv";
  ASSERT_EQ(run_command("grub-editenv " + file.string() + " create && grub-editenv " +
                        file.string() + " set B_TRY=3 'ORDER=B A' 'X=a\\b'")
                .status,
            0);
  auto data = read_file(file);
  ASSERT_TRUE(data.ok());
  auto env = device::parse_grubenv(*data);
  ASSERT_TRUE(env.ok()) << env.error().message();
  EXPECT_EQ((*env)["B_TRY"], "3");
  EXPECT_EQ((*env)["ORDER"], "B A");
  EXPECT_EQ((*env)["X"], "a\\b");
  auto again = device::render_grubenv(*env);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(device::parse_grubenv(*again).value(), env.value());
}

TEST_F(GrubEnvTest, RejectsWhatGrubCannotStore) {
  EXPECT_FALSE(device::render_grubenv({{"A=B", "1"}}).ok());
  EXPECT_FALSE(device::render_grubenv({{"", "1"}}).ok());
  EXPECT_FALSE(device::render_grubenv({{"A", "x\ny"}}).ok());
  EXPECT_FALSE(device::render_grubenv({{"BIG", std::string(1000, 'x')}}).ok());
  EXPECT_FALSE(device::parse_grubenv("# GRUB Environment Block\n").ok());
  EXPECT_FALSE(device::parse_grubenv(std::string(1024, '#')).ok());
}

}  // namespace
}  // namespace ef::test
