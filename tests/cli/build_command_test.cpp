#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "builder/squashfs/reader.hpp"
#include "tests/cli/cli_fixture.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

using nlohmann::json;

class BuildCommandTest : public CliTest {};

TEST_F(BuildCommandTest, WritesImageAndManifest) {
  write_basic_profile("  agent: {enabled: false}\n");  // exact entry counts below
  auto r = edgeforge("build --profile profile.yaml --output out --json");
  ASSERT_EQ(r.status, 0) << last_stderr();
  auto summary = json::parse(r.out);
  EXPECT_TRUE(summary["ok"].get<bool>());
  auto image = tmp / "out/edge-1.2.3.squashfs";
  ASSERT_TRUE(std::filesystem::exists(image));
  EXPECT_EQ(summary["sha256"], *sha256_file(image));

  auto manifest = json::parse(*read_file(tmp / "out/edge-1.2.3.manifest.json"));
  EXPECT_EQ(manifest["image"]["sha256"], *sha256_file(image));
  EXPECT_EQ(manifest["image"]["size"], std::filesystem::file_size(image));
  EXPECT_EQ(manifest["profile"]["name"], "edge");
  EXPECT_EQ(manifest["profile"]["digest"].get<std::string>().size(), 64u);
  EXPECT_EQ(manifest["inputs"][0]["role"], "base");
  EXPECT_EQ(manifest["inputs"][0]["sha256"], *sha256_file(tmp / "rootfs.tar"));
  EXPECT_EQ(manifest["inputs"][0]["path"], "rootfs.tar");
  EXPECT_EQ(manifest["inputs"][1]["files"][0]["sha256"], sha256_hex("hello\n"));
  EXPECT_EQ(manifest["entries"]["files"], 4);
  EXPECT_EQ(manifest["entries"]["symlinks"], 1);
  ASSERT_EQ(manifest["packages"].size(), 1u);  // "gone" is not installed
  EXPECT_EQ(manifest["packages"][0]["name"], "base-files");
  EXPECT_EQ(manifest["packages"][0]["version"], "12.4");
  EXPECT_EQ(manifest["tool"]["name"], "edgeforge");
  EXPECT_EQ(manifest["epochSource"], "none");
}

// The second build takes the base's digest from the cache's memo; a base
// rewritten in place (same size, mtime put back) must not fool it.
TEST_F(BuildCommandTest, ManifestDigestFollowsAChangedBase) {
  write_basic_profile();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o a -q --cache-dir cache").status, 0)
      << last_stderr();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o b -q --cache-dir cache").status, 0)
      << last_stderr();
  auto first = json::parse(*read_file(tmp / "b/edge-1.2.3.manifest.json"));
  EXPECT_EQ(first["inputs"][0]["sha256"], *sha256_file(tmp / "rootfs.tar"));

  auto tar = *read_file(tmp / "rootfs.tar");
  auto pos = tar.find("bookworm");
  ASSERT_NE(pos, std::string::npos);
  tar.replace(pos, 8, "trixie!!");
  ASSERT_EQ(
      run_command("touch -r " + (tmp / "rootfs.tar").string() + " " + (tmp / "stamp").string())
          .status,
      0);
  tmp.write("rootfs.tar", tar);
  ASSERT_EQ(
      run_command("touch -r " + (tmp / "stamp").string() + " " + (tmp / "rootfs.tar").string())
          .status,
      0);
  ASSERT_EQ(edgeforge("build -p profile.yaml -o c -q --cache-dir cache").status, 0)
      << last_stderr();
  auto second = json::parse(*read_file(tmp / "c/edge-1.2.3.manifest.json"));
  EXPECT_EQ(second["inputs"][0]["sha256"], *sha256_file(tmp / "rootfs.tar"));
  EXPECT_NE(second["inputs"][0]["sha256"], first["inputs"][0]["sha256"]);
}

TEST_F(BuildCommandTest, SameBytesAcrossDirectoriesAndWorkerCounts) {
  write_basic_profile();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o a -j 1 -q").status, 0) << last_stderr();
  std::filesystem::create_directories(tmp / "elsewhere");
  std::filesystem::copy(tmp / "rootfs.tar", tmp / "elsewhere/rootfs.tar");
  std::filesystem::copy(tmp / "profile.yaml", tmp / "elsewhere/profile.yaml");
  ASSERT_EQ(edgeforge("build -p elsewhere/profile.yaml -o b/c -j 2 -q").status, 0) << last_stderr();
  EXPECT_EQ(*sha256_file(tmp / "a/edge-1.2.3.squashfs"),
            *sha256_file(tmp / "b/c/edge-1.2.3.squashfs"));
  EXPECT_EQ(*read_file(tmp / "a/edge-1.2.3.manifest.json"),
            *read_file(tmp / "b/c/edge-1.2.3.manifest.json"));
}

TEST_F(BuildCommandTest, SourceDateEpochClampsTimestamps) {
  write_basic_profile();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q", "SOURCE_DATE_EPOCH=1000").status, 0)
      << last_stderr();
  auto reader = squashfs::ImageReader::open(tmp / "out/edge-1.2.3.squashfs");
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->info().mod_time, 1000);
  auto listed = (*reader)->list();
  ASSERT_TRUE(listed);
  for (const auto& e : listed.value()) EXPECT_LE(e.mtime, 1000) << e.path;
  auto manifest = json::parse(*read_file(tmp / "out/edge-1.2.3.manifest.json"));
  EXPECT_EQ(manifest["epoch"], 1000);
  EXPECT_EQ(manifest["epochSource"], "SOURCE_DATE_EPOCH");
  auto bad = edgeforge("build -p profile.yaml -o out2 -q", "SOURCE_DATE_EPOCH=yesterday");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(last_stderr().find("SOURCE_DATE_EPOCH"), std::string::npos);
}

TEST_F(BuildCommandTest, ProfileEpochIsUsedWithoutSourceDateEpoch) {
  write_basic_profile();
  auto text = *read_file(tmp / "profile.yaml");
  text.replace(text.find("  version: 1.2.3\n"), 17, "  version: 1.2.3\n  epoch: 1500000000\n");
  tmp.write("profile.yaml", text);
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q", "env -u SOURCE_DATE_EPOCH").status, 0)
      << last_stderr();
  auto reader = squashfs::ImageReader::open(tmp / "out/edge-1.2.3.squashfs");
  EXPECT_EQ((*reader)->info().mod_time, 1500000000);
}

TEST_F(BuildCommandTest, HostileInputFailsWithOneLineAndNoOutput) {
  write_tar(tmp / "evil.tar",
            {TarEntry::file("ok", "1"), TarEntry::file("x/../../etc/passwd", "root")});
  write_basic_profile("    - tarball: {path: evil.tar}\n");
  auto r = edgeforge("build -p profile.yaml -o out");
  EXPECT_EQ(r.status, 1);
  std::string err = last_stderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("profile.yaml:12:7: layer 2 (tarball evil.tar): entry 2 'x/../../etc/passwd'"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out/edge-1.2.3.squashfs"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "out/edge-1.2.3.manifest.json"));
}

TEST_F(BuildCommandTest, ValidateReportsFileLineColumn) {
  write_basic_profile();
  ASSERT_EQ(edgeforge("validate -p profile.yaml").status, 0) << last_stderr();
  tmp.write(
      "bad.yaml",
      "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: x\n  version: 1.0.0\n"
      "spec:\n  base:\n    tarball: {path: rootfs.tar}\n  output:\n    compresion: zstd\n");
  auto r = edgeforge("validate -p bad.yaml");
  EXPECT_EQ(r.status, 1);
  std::string err = last_stderr();
  EXPECT_NE(err.find("bad.yaml:10:5"), std::string::npos) << err;
  EXPECT_NE(err.find("compresion"), std::string::npos) << err;
}

TEST_F(BuildCommandTest, OfflineListsEveryMissingInput) {
  write_basic_profile(
      "    - tarball: {url: \"http://127.0.0.1:9/a.tar\", sha256: "
      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n"
      "    - tarball: {url: \"http://127.0.0.1:9/b.tar\", sha256: "
      "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}\n");
  auto r = edgeforge("build -p profile.yaml -o out --offline --cache-dir cache");
  EXPECT_EQ(r.status, 1);
  std::string err = last_stderr();
  EXPECT_NE(err.find("2 input(s) are not in the cache"), std::string::npos) << err;
  EXPECT_NE(err.find("http://127.0.0.1:9/a.tar"), std::string::npos) << err;
  EXPECT_NE(err.find("http://127.0.0.1:9/b.tar"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
}

TEST_F(BuildCommandTest, HelpForEveryCommand) {
  for (std::string cmd : {"", "build ", "validate ", "inspect "}) {
    auto r = edgeforge(cmd + "--help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
  }
  EXPECT_NE(edgeforge("frobnicate").status, 0);
  EXPECT_NE(last_stderr().find("frobnicate"), std::string::npos);
}

TEST_F(BuildCommandTest, TakesTheAgentFromTheBuildTreeOrTheOption) {
  write_basic_profile();
  // build/cli/edgeforge finds build/agent/edgeforge-agent by itself.
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q").status, 0) << last_stderr();
  auto listing = run_command("unsquashfs -lln " + (tmp / "out/edge-1.2.3.squashfs").string());
  EXPECT_NE(listing.out.find("squashfs-root/usr/bin/edgeforge-agent\n"), std::string::npos);
  EXPECT_NE(listing.out.find("squashfs-root/etc/edgeforge/agent.json\n"), std::string::npos);

  auto r = edgeforge("build -p profile.yaml -o out2 -q --agent-binary missing-agent");
  EXPECT_EQ(r.status, 1);
  std::string err = last_stderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("--agent-binary"), std::string::npos) << err;
  EXPECT_NE(err.find("spec.agent.enabled: false"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out2/edge-1.2.3.squashfs"));
}

}  // namespace
}  // namespace ef::test
