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

TEST_F(InspectCommandTest, NotAnImage) {
  tmp.write("junk", std::string(8192, 'j'));
  auto r = edgeforge("inspect junk");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(last_stderr().find("not a squashfs image"), std::string::npos) << last_stderr();
}

}  // namespace
}  // namespace ef::test
