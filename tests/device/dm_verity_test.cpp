#include "device/dm_verity.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ef::device {
namespace {

VerityTarget target() {
  VerityTarget t;
  t.data_device = "/dev/vda2";
  t.data_blocks = 1000;
  t.hash_offset = 1000 * 4096;
  t.root_hash_hex = std::string(64, 'a');
  t.salt_hex = std::string(64, '5');
  return t;
}

TEST(DmVerityTest, TableParametersAreTheKernelsVerityFormat) {
  // dm-verity's documented table: version, data and hash devices, block
  // sizes, data blocks, hash start block, algorithm, digest, salt, options.
  EXPECT_EQ(verity_table_params(target(), "254:2"),
            "1 254:2 254:2 4096 4096 1000 1000 sha256 " + std::string(64, 'a') + " " +
                std::string(64, '5') + " 1 panic_on_corruption");
  VerityTarget t = target();
  t.salt_hex.clear();
  t.on_corruption.clear();
  EXPECT_EQ(verity_table_params(t, "8:1"),
            "1 8:1 8:1 4096 4096 1000 1000 sha256 " + std::string(64, 'a') + " -");
}

TEST(DmVerityTest, BadFieldsAreRefusedNamingTheField) {
  EXPECT_TRUE(check_verity_target(target()));
  auto bad = [](auto change, const char* field) {
    VerityTarget t = target();
    change(t);
    auto r = check_verity_target(t);
    ASSERT_FALSE(r) << field;
    EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  };
  bad([](VerityTarget& t) { t.root_hash_hex = "abc"; }, "root hash");
  bad([](VerityTarget& t) { t.root_hash_hex = std::string(64, 'g'); }, "root hash");
  bad([](VerityTarget& t) { t.salt_hex = "xyz1"; }, "salt");
  bad([](VerityTarget& t) { t.hash_offset = 4095; }, "hash offset");
  bad([](VerityTarget& t) { t.hash_offset = 4096; }, "hash offset");  // inside the data
  bad([](VerityTarget& t) { t.data_blocks = 0; }, "data blocks");
  bad([](VerityTarget& t) { t.block_size = 3000; }, "block size");
  bad([](VerityTarget& t) { t.on_corruption = "ignore_corruption"; }, "corruption");
}

TEST(DmVerityTest, OpenRefusesWhatIsNotABlockDeviceBeforeTouchingDeviceMapper) {
  VerityTarget t = target();
  t.data_device = "/dev/null";
  auto r = open_verity("edgeforge-test", t);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a block device"), std::string::npos)
      << r.error().message();
}

std::string efivar(const std::string& id) {
  std::string v = std::string("\x06\x00\x00\x00", 4);  // attributes
  for (char c : id) {
    v += c;
    v += '\0';
  }
  v += std::string(2, '\0');
  return v;
}

TEST(DmVerityTest, TheSlotComesFromSystemdBootsSelectedEntry) {
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-a.conf")), "A");
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-b-good.conf")), "B");
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-a-good+2-1.conf")), "A");
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-b+2-1.conf")), "B");
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-b+0-3.conf")), "B");
  EXPECT_EQ(slot_from_loader_entry(efivar("debian.conf")), "");
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-c.conf")), "");
  EXPECT_EQ(slot_from_loader_entry(efivar("edgeforge-slot-a.conf.bak")), "");
  EXPECT_EQ(slot_from_loader_entry("\x06\x00"), "");
  EXPECT_EQ(slot_from_loader_entry(""), "");
  std::string wide = efivar("edgeforge-slot-a.conf");
  wide[5] = '\x01';  // a non-ASCII UTF-16 unit
  EXPECT_EQ(slot_from_loader_entry(wide), "");
}

}  // namespace
}  // namespace ef::device
