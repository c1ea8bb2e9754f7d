// install.json: the installer's plan round-trips, damaged plans are refused,
// and the sfdisk script gives the documented table (sfdisk --json oracle).
#include "device/install_manifest.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::test {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

device::InstallManifest sample() {
  device::InstallManifest m;
  m.product = "quickstart";
  m.version = "0.1.0";
  m.min_version = "0.1.0";
  m.image_sha256 = std::string(64, 'a');
  m.image_size = 5 * kMiB;
  m.disk_guid = "11111111-2222-4333-8444-555555555555";
  m.disk_size = 100 * kMiB;
  uint64_t at = kMiB;
  int i = 0;
  for (auto [name, size] :
       std::vector<std::pair<std::string, uint64_t>>{{"edgeforge-esp", 64 * kMiB},
                                                     {"edgeforge-slot-a", 8 * kMiB},
                                                     {"edgeforge-slot-b", 8 * kMiB},
                                                     {"edgeforge-persist", 16 * kMiB}}) {
    m.partitions.push_back(
        {name, at, size, "aaaaaaaa-bbbb-4ccc-8ddd-00000000000" + std::to_string(i++),
         name == "edgeforge-esp" ? device::kEspTypeGuid : device::kLinuxTypeGuid});
    at += size;
  }
  m.disk_size = at + kMiB;
  m.esp_volume_id = "ABCD-1234";
  m.esp_files = {{"/slot-a/vmlinuz", "boot/vmlinuz", std::string(64, 'b'), 10}};
  m.persistent_uuid = "99999999-2222-4333-8444-555555555555";
  m.persistent_hash_seed = "88888888-2222-4333-8444-555555555555";
  m.site_registries = "k3s";
  return m;
}

TEST(InstallManifestTest, RoundTrips) {
  auto text = device::render_install_manifest(sample());
  auto m = device::parse_install_manifest(text, "install.json");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(device::render_install_manifest(*m), text);
  EXPECT_EQ(m->partition("edgeforge-slot-b")->offset, 73 * kMiB);
  EXPECT_EQ(m->esp_files.at(0).source, "boot/vmlinuz");
  EXPECT_EQ(m->site_registries, "k3s");
}

TEST(InstallManifestTest, RefusesDamagedPlans) {
  auto j = nlohmann::json::parse(device::render_install_manifest(sample()));
  auto expect_error = [](const nlohmann::json& doc, const std::string& want) {
    auto m = device::parse_install_manifest(doc.dump(), "/m/edgeforge/install.json");
    ASSERT_FALSE(m.ok()) << want;
    EXPECT_NE(m.error().message().find(want), std::string::npos) << m.error().message();
    EXPECT_NE(m.error().message().find("/m/edgeforge/install.json: "), std::string::npos);
  };
  auto v2 = j;
  v2["formatVersion"] = 2;
  expect_error(v2, "unknown formatVersion");
  auto no_b = j;
  no_b["disk"]["partitions"].erase(2);
  expect_error(no_b, "no partition edgeforge-slot-b");
  auto odd = j;
  odd["disk"]["partitions"][1]["offset"] = 65 * kMiB + 512;
  expect_error(odd, "not 1 MiB aligned");
  auto big = j;
  big["image"]["size"] = 9 * kMiB;
  expect_error(big, "does not fit slot A");
  auto incomplete = j;
  incomplete.erase("persistent");
  expect_error(incomplete, "incomplete");
  // Numbers that are not whole, or do not fit, are errors (not a cast: a
  // float of 1e20 was undefined behaviour; found by fuzz_agent_files).
  for (const char* number : {"1.0276e+20", "1.5", "-1"}) {
    auto odd_size = j;
    odd_size["disk"]["partitions"][0]["size"] = nlohmann::json::parse(number);
    expect_error(odd_size, "incomplete");
  }
  for (const char* number : {"1.0276e+20", "1.5"}) {
    auto odd_version = j;
    odd_version["formatVersion"] = nlohmann::json::parse(number);
    expect_error(odd_version, "incomplete");
  }
  auto m = device::parse_install_manifest("{not json", "x.json");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("rebuild the ISO"), std::string::npos);
}

TEST_F(TempDirTest, SfdiskScriptGivesTheDocumentedTable) {
  auto m = sample();
  auto script = tmp.write("gpt.sfdisk", device::sfdisk_script(m.disk_guid, m.partitions));
  auto disk = (tmp / "disk.img").string();
  ASSERT_EQ(run_command("truncate -s " + std::to_string(m.disk_size) + " " + disk).status, 0);
  ASSERT_EQ(run_command("sfdisk --quiet " + disk + " < " + script.string()).status, 0);
  auto out = run_command("sfdisk --json " + disk);
  ASSERT_EQ(out.status, 0);
  auto t = nlohmann::json::parse(out.out)["partitiontable"];
  EXPECT_EQ(t["label"], "gpt");
  EXPECT_EQ(t["id"], "11111111-2222-4333-8444-555555555555");
  ASSERT_EQ(t["partitions"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(t["partitions"][i]["name"], m.partitions[i].name);
    EXPECT_EQ(t["partitions"][i]["start"].get<uint64_t>() * 512, m.partitions[i].offset);
    EXPECT_EQ(t["partitions"][i]["size"].get<uint64_t>() * 512, m.partitions[i].size);
    EXPECT_EQ(t["partitions"][i]["type"], m.partitions[i].type);
  }
}

}  // namespace
}  // namespace ef::test
