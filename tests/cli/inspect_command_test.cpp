#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixture.hpp"

namespace ef::test {
namespace {

class InspectCommandTest : public CliTest {};

TEST_F(InspectCommandTest, ListsEntriesAndPrintsFiles) {
  write_basic_profile();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q").status, 0) << last_stderr();
  auto list = edgeforge("inspect out/edge-1.2.3.squashfs");
  ASSERT_EQ(list.status, 0) << last_stderr();
  EXPECT_NE(list.out.find("-rwxr-xr-x   1     0/0                4 2023-11-14 22:13 /usr/bin/sh"),
            std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("7 2023-11-14 22:13 /bin -> usr/bin"), std::string::npos);
  auto cat = edgeforge("inspect out/edge-1.2.3.squashfs --cat /etc/os-release");
  EXPECT_EQ(cat.status, 0);
  EXPECT_EQ(cat.out, "ID=debian\nVERSION_CODENAME=bookworm\n");
  auto json = nlohmann::json::parse(edgeforge("inspect out/edge-1.2.3.squashfs --json").out);
  EXPECT_EQ(json[0]["path"], "/");
  auto missing = edgeforge("inspect out/edge-1.2.3.squashfs --cat /nope");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(last_stderr().find("/nope"), std::string::npos);
}

// A raw A/B disk: the overview, then each partition's entries and files.
TEST_F(InspectCommandTest, ReadsEveryPartitionOfARawDisk) {
  write_basic_profile(
      "    - files:\n"
      "        - {path: /boot/vmlinuz-6.1.0-2-amd64, content: \"kernel\"}\n"
      "        - {path: /boot/initrd.img-6.1.0-2-amd64, content: \"initrd\"}\n"
      "        - {path: /usr/lib/modules/6.1.0-2-amd64/modules.dep, content: "
      "\"kernel/squashfs.ko:\\nkernel/overlay.ko:\\n\"}\n"
      "        - {path: /usr/lib/modules/6.1.0-2-amd64/kernel/squashfs.ko, content: \"sq\"}\n"
      "        - {path: /usr/lib/modules/6.1.0-2-amd64/kernel/overlay.ko, content: \"ov\"}\n"
      "  agent: {enabled: false}\n"
      "  output:\n    formats: [squashfs, raw]\n"
      "    disk: {espSize: 32, slotSize: 16, persistentSize: 16}\n");
  // --json: stdout is one JSON document, whatever mke2fs, sfdisk or mtools print.
  auto built = edgeforge("build -p profile.yaml -o out -q --json");
  ASSERT_EQ(built.status, 0) << last_stderr();
  auto summary = nlohmann::json::parse(built.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << built.out;
  auto overview = edgeforge("inspect out/edge-1.2.3.raw");
  ASSERT_EQ(overview.status, 0) << last_stderr();
  EXPECT_NE(overview.out.find("edgeforge-slot-a: squashfs, zstd,"), std::string::npos)
      << overview.out;
  EXPECT_NE(overview.out.find("edgeforge-slot-b: empty (no squashfs image)"), std::string::npos)
      << overview.out;
  EXPECT_NE(overview.out.find("  /slot-a/vmlinuz\n"), std::string::npos) << overview.out;
  EXPECT_NE(overview.out.find("  A_OK=1\n"), std::string::npos) << overview.out;

  auto slot = edgeforge("inspect out/edge-1.2.3.raw --partition a");
  ASSERT_EQ(slot.status, 0) << last_stderr();
  EXPECT_EQ(slot.out, edgeforge("inspect out/edge-1.2.3.squashfs").out);
  // Symlinks are followed inside the image: /etc/os-release style.
  EXPECT_EQ(edgeforge("inspect out/edge-1.2.3.raw --partition a --cat /bin/sh").out, "#!sh");
  EXPECT_EQ(edgeforge("inspect out/edge-1.2.3.raw --cat /slot-a/vmlinuz").out, "kernel");
  EXPECT_EQ(edgeforge("inspect out/edge-1.2.3.raw --partition esp --cat /slot-a/initrd.img").out,
            "initrd");
  auto persistent = edgeforge("inspect out/edge-1.2.3.raw --partition persistent --json");
  ASSERT_EQ(persistent.status, 0) << last_stderr();
  auto listed = nlohmann::json::parse(persistent.out);
  EXPECT_EQ(listed[0]["path"], "/");
  EXPECT_EQ(listed[0]["type"], "directory");

  auto empty = edgeforge("inspect out/edge-1.2.3.raw --partition b");
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(last_stderr().find("edgeforge-slot-b holds no squashfs image"), std::string::npos)
      << last_stderr();
  auto unknown = edgeforge("inspect out/edge-1.2.3.raw --partition c");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(last_stderr().find("no partition 'c' (the disk has edgeforge-esp, edgeforge-slot-a"),
            std::string::npos)
      << last_stderr();
  auto on_image = edgeforge("inspect out/edge-1.2.3.squashfs --partition a");
  EXPECT_EQ(on_image.status, 1);
  EXPECT_NE(last_stderr().find("--partition reads disk images"), std::string::npos)
      << last_stderr();
}

TEST_F(InspectCommandTest, NotAnImage) {
  tmp.write("junk", std::string(8192, 'j'));
  auto r = edgeforge("inspect junk");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(last_stderr().find("not a squashfs image"), std::string::npos) << last_stderr();
}

}  // namespace
}  // namespace ef::test
