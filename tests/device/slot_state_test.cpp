// The A/B slot-state contract and the GRUB script that reads it.
#include "device/slot_state.hpp"

#include <gtest/gtest.h>

#include "iso/boot_data.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::test {
namespace {

class SlotStateTest : public TempDirTest {};

TEST_F(SlotStateTest, DefaultIsSlotAGoodAndRoundTrips) {
  auto env = device::slot_state_env({});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env,
            (device::GrubEnv{
                {"ORDER", "A B"}, {"A_OK", "1"}, {"A_TRY", "0"}, {"B_OK", "0"}, {"B_TRY", "0"}}));
  auto back = device::slot_state_from_env(*env);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->order, "A B");
  EXPECT_TRUE(back->a_ok);
  EXPECT_FALSE(back->b_ok);
}

TEST_F(SlotStateTest, RejectsValuesTheScriptCannotHandle) {
  EXPECT_FALSE(device::slot_state_env({"A A", true, 0, false, 0}).ok());
  EXPECT_FALSE(device::slot_state_env({"B A", true, 4, false, 0}).ok());
  EXPECT_FALSE(device::slot_state_env({"B A", true, 0, false, -1}).ok());
  device::GrubEnv env = device::slot_state_env({}).value();
  env["B_TRY"] = "7";
  EXPECT_FALSE(device::slot_state_from_env(env).ok());
  env.erase("B_TRY");
  EXPECT_FALSE(device::slot_state_from_env(env).ok());
}

TEST_F(SlotStateTest, GrubScriptParsesAndCoversEveryTryCount) {
  std::string script(iso::grub_ab_template());
  auto file = tmp.write("grub.cfg", script);
  EXPECT_EQ(run_command("grub-script-check " + file.string()).status, 0);
  for (const char* slot : {"A", "B"})
    for (int t = 1; t <= device::kMaxSlotTries; ++t)
      EXPECT_NE(
          script.find(std::string("[ \"$") + slot + "_TRY\" = \"" + std::to_string(t) + "\" ]"),
          std::string::npos)
          << slot << " try " << t;
}

}  // namespace
}  // namespace ef::test
