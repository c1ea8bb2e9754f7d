#include "device/boot_entries.hpp"

#include <gtest/gtest.h>

namespace ef::device {
namespace {

TEST(BootEntriesTest, NamesFollowSystemdBootsCounterSuffixes) {
  auto a = parse_slot_entry_name("edgeforge-slot-a.conf");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->slot, "A");
  EXPECT_EQ(a->tries, -1);
  auto b = parse_slot_entry_name("edgeforge-slot-b+3.conf");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->slot, "B");
  EXPECT_EQ(b->tries, 3);
  // What systemd-boot renames a trial entry to before it boots it.
  auto counted = parse_slot_entry_name("edgeforge-slot-b+2-1.conf");
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->tries, 2);
  auto spent = parse_slot_entry_name("edgeforge-slot-a+0-3.conf");
  ASSERT_TRUE(spent);
  EXPECT_EQ(spent->tries, 0);
  for (const char* other : {"edgeforge-slot-c.conf", "edgeforge-slot-a.conf.tmp", "debian.conf",
                            "edgeforge-slot-a+.conf", "edgeforge-slot-a+x.conf",
                            "edgeforge-slot-a+1-.conf", "edgeforge-slot-ab.conf"})
    EXPECT_FALSE(parse_slot_entry_name(other)) << other;
  EXPECT_EQ(slot_entry_file("A", -1), "edgeforge-slot-a.conf");
  EXPECT_EQ(slot_entry_file("B", 3), "edgeforge-slot-b+3.conf");
  EXPECT_EQ(slot_entry_file("A", 3, true), "edgeforge-slot-a-good+3.conf");
  // A confirmed slot with its counter armed, as systemd-boot counts it.
  auto good = parse_slot_entry_name("edgeforge-slot-a-good+2-1.conf");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->slot, "A");
  EXPECT_TRUE(good->good);
  EXPECT_EQ(good->tries, 2);
  EXPECT_FALSE(parse_slot_entry_name("edgeforge-slot-a-goo+1.conf"));
  EXPECT_FALSE(parse_slot_entry_name("edgeforge-slot-a-good-good+1.conf"));
}

// -good+LEFT is confirmed while tries are left; -good+0 (its armed boots
// all failed) is neither confirmed nor on trial.
TEST(BootEntriesTest, AConfirmedSlotCountsItsBootsToo) {
  auto armed = slot_state_from_entries({{"A", 2, 1, true}, {"B", 3, 2, true}});
  ASSERT_TRUE(armed);
  EXPECT_TRUE(armed->a_ok);
  EXPECT_EQ(armed->a_tries, 0);
  EXPECT_TRUE(armed->b_ok);
  auto spent = slot_state_from_entries({{"A", 0, 1, true}, {"B", 3, 2, true}});
  ASSERT_TRUE(spent);
  EXPECT_FALSE(spent->a_ok);
  EXPECT_EQ(spent->a_tries, 0);
  EXPECT_TRUE(spent->b_ok);
  // Writing a confirmed slot arms its counter.
  auto written = entries_for_state({"A B", true, 0, false, 2}, {"A", "B"});
  ASSERT_TRUE(written);
  EXPECT_EQ(slot_entry_file((*written)[0].slot, (*written)[0].tries, (*written)[0].good),
            "edgeforge-slot-a-good+" + std::to_string(kArmedTries) + ".conf");
  EXPECT_EQ(slot_entry_file((*written)[1].slot, (*written)[1].tries, (*written)[1].good),
            "edgeforge-slot-b+2.conf");
}

TEST(BootEntriesTest, BodyNamesTheSlotsKernelImageAndItsRank) {
  std::string body = slot_entry_body("B", 1);
  EXPECT_NE(body.find("efi /slot-b/edgeforge.efi\n"), std::string::npos) << body;
  EXPECT_EQ(slot_entry_rank(body), 1);
  EXPECT_EQ(slot_entry_rank(slot_entry_body("A", 2)), 2);
  EXPECT_EQ(slot_entry_rank("title x\nefi /x.efi\n"), 0);
  // Ranks keep the body's length, so a reorder rewrites one sector in place.
  EXPECT_EQ(slot_entry_body("A", 1).size(), slot_entry_body("A", 2).size());
}

TEST(BootEntriesTest, StateRoundTripsThroughEntries) {
  const SlotState states[] = {{"A B", true, 0, false, 0},
                              {"B A", true, 0, false, 3},
                              {"B A", false, 0, true, 0},
                              {"A B", true, 0, true, 0},
                              {"A B", false, 1, true, 0}};
  for (const SlotState& s : states) {
    auto entries = entries_for_state(s, {"A", "B"});
    ASSERT_TRUE(entries) << entries.error().message();
    auto back = slot_state_from_entries(*entries);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->order, s.order);
    EXPECT_EQ(back->a_ok, s.a_ok);
    EXPECT_EQ(back->a_tries, s.a_tries);
    EXPECT_EQ(back->b_ok, s.b_ok);
    EXPECT_EQ(back->b_tries, s.b_tries);
  }
}

TEST(BootEntriesTest, ASlotWithoutAKernelImageGetsNoEntry) {
  auto entries = entries_for_state({"A B", true, 0, false, 0}, {"A"});
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].slot, "A");
  auto back = slot_state_from_entries(*entries);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->b_ok);
  EXPECT_EQ(back->b_tries, 0);
  EXPECT_EQ(back->order, "A B");
}

TEST(BootEntriesTest, TiesGoToSlotBAsSystemdBootSortsThem) {
  auto back = slot_state_from_entries({{"A", -1, 1}, {"B", 3, 1}});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->order, "B A");
}

TEST(BootEntriesTest, TwoEntriesForOneSlotOrNoneAreErrors) {
  auto two = slot_state_from_entries({{"A", -1, 1}, {"A", 2, 2}});
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().message().find("two boot entries for slot A"), std::string::npos);
  EXPECT_FALSE(slot_state_from_entries({}));
  EXPECT_FALSE(entries_for_state({"A C", true, 0, false, 0}, {"A"}));
}

}  // namespace
}  // namespace ef::device
