#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "image/squashfs_reader.hpp"
#include "tests/cli/cli_fixture.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

using nlohmann::json;

// A files layer with what the ISO and the raw disk need from an image: a
// (fake) kernel, its initrd and the modules the boot loads.
const char* const kKernelLayer =
    "    - files:\n"
    "        - {path: /boot/vmlinuz-6.1.0-2-amd64, content: \"kernel\"}\n"
    "        - {path: /boot/initrd.img-6.1.0-2-amd64, content: \"initrd\"}\n"
    "        - {path: /usr/lib/modules/6.1.0-2-amd64/modules.dep, content: "
    "\"kernel/squashfs.ko:\\nkernel/overlay.ko:\\nkernel/isofs.ko:\\n\"}\n"
    "        - {path: /usr/lib/modules/6.1.0-2-amd64/kernel/squashfs.ko, content: \"sq\"}\n"
    "        - {path: /usr/lib/modules/6.1.0-2-amd64/kernel/overlay.ko, content: \"ov\"}\n"
    "        - {path: /usr/lib/modules/6.1.0-2-amd64/kernel/isofs.ko, content: \"iso\"}\n"
    "  agent: {enabled: false}\n";
const char* const kSmallDisk = "    disk: {espSize: 32, slotSize: 16, persistentSize: 16}\n";

// The names in `dir`, sorted (hidden ones too: a left-over staging directory counts).
std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class BuildCommandTest : public CliTest {
 protected:
  // The basic profile's base plus a text file of `size` bytes (several blocks).
  void write_profile_with_big_file(size_t size) {
    write_basic_profile();
    std::string big;
    for (int i = 0; big.size() < size; ++i) big += "line " + std::to_string(i * 7919) + "\n";
    tmp.write("big.txt", big);
    tmp.write("profile.yaml",
              "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata: {name: edge, "
              "version: 1.2.3}\nspec:\n  base: {tarball: {path: rootfs.tar}}\n  layers:\n"
              "    - files:\n        - {path: /opt/big.txt, source: big.txt}\n"
              "  agent: {enabled: false}\n");
  }
};

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
  auto reader = image::ImageReader::open(tmp / "out/edge-1.2.3.squashfs");
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
  auto reader = image::ImageReader::open(tmp / "out/edge-1.2.3.squashfs");
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

// The block cache through the command: the second build takes every block
// from it, --json says so (and how long each stage took), the bytes stay
// the same with --no-cache, and `cache prune` empties it.
TEST_F(BuildCommandTest, RebuildTakesBlocksFromTheBlockCache) {
  // One file of several blocks, so there is something to compress.
  write_profile_with_big_file(600000);
  auto first = edgeforge("build -p profile.yaml -o a --cache-dir cache --json");
  ASSERT_EQ(first.status, 0) << last_stderr();
  auto one = json::parse(first.out);
  EXPECT_TRUE(one["cache"]["enabled"].get<bool>());
  EXPECT_EQ(one["cache"]["hits"], 0);
  uint64_t blocks = one["cache"]["misses"].get<uint64_t>();
  EXPECT_GE(blocks, 5u);  // 4 data blocks of big.txt and at least one fragment block
  EXPECT_EQ(one["cache"]["stored"], blocks);
  std::vector<std::string> stages;
  for (const auto& s : one["stages"]) {
    stages.push_back(s["stage"]);
    EXPECT_GE(s["seconds"].get<double>(), 0.0);
  }
  EXPECT_NE(std::find(stages.begin(), stages.end(), "writing image"), stages.end());
  EXPECT_TRUE(std::filesystem::is_directory(tmp / "cache/blocks"));

  auto second = json::parse(edgeforge("build -p profile.yaml -o b --cache-dir cache --json").out);
  EXPECT_EQ(second["cache"]["hits"], blocks);
  EXPECT_EQ(second["cache"]["misses"], 0);
  EXPECT_EQ(second["sha256"], one["sha256"]);
  auto cold =
      json::parse(edgeforge("build -p profile.yaml -o c --cache-dir cache --no-cache --json").out);
  EXPECT_FALSE(cold["cache"]["enabled"].get<bool>());
  EXPECT_EQ(cold["sha256"], one["sha256"]);

  auto pruned = edgeforge("cache prune --cache-dir cache --max-size 0 --json");
  ASSERT_EQ(pruned.status, 0) << last_stderr();
  EXPECT_EQ(json::parse(pruned.out)["removed"], 1);  // the first build's pack
  auto again = json::parse(edgeforge("build -p profile.yaml -o d --cache-dir cache --json").out);
  EXPECT_EQ(again["cache"]["hits"], 0);
  EXPECT_EQ(again["sha256"], one["sha256"]);

  // A bound smaller than one image: the build prunes after itself.
  auto bounded = json::parse(
      edgeforge("build -p profile.yaml -o e --cache-dir cache2 --cache-max-size 100K --json").out);
  EXPECT_LE(bounded["cache"]["pruned"]["bytes"].get<uint64_t>() -
                bounded["cache"]["pruned"]["removedBytes"].get<uint64_t>(),
            100u * 1024);
  auto bad = edgeforge("build -p profile.yaml -o f --cache-max-size lots");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(last_stderr().find("--cache-max-size: size 'lots'"), std::string::npos)
      << last_stderr();
  EXPECT_FALSE(std::filesystem::exists(tmp / "f"));
}

// A tarball base whose digest the cache knows gets its tree from its entry
// index: the same image, and a new tarball never meets an old index.
TEST_F(BuildCommandTest, ATarballOfAKnownDigestMakesItsTreeFromItsEntryIndex) {
  write_basic_profile("  agent: {enabled: false}\n");
  auto build = [&](const std::string& out, const std::string& extra = "") {
    auto r = edgeforge("build -p profile.yaml -o " + out + " --cache-dir cache --json " + extra);
    EXPECT_EQ(r.status, 0) << last_stderr();
    return json::parse(r.out);
  };
  // The first build learns the tarball's digest while it builds (no index yet),
  // the second knows it and keeps the index, the third reads only the index.
  auto a = build("a");
  EXPECT_EQ(a["cache"]["entryIndexes"], json({{"used", 0}, {"written", 0}}));
  auto b = build("b");
  EXPECT_EQ(b["cache"]["entryIndexes"], json({{"used", 0}, {"written", 1}}));
  auto indexes = listing(tmp / "cache/trees");
  ASSERT_EQ(indexes, std::vector<std::string>{*sha256_file(tmp / "rootfs.tar") + ".idx"});
  auto c = build("c");
  EXPECT_EQ(c["cache"]["entryIndexes"], json({{"used", 1}, {"written", 0}}));
  EXPECT_EQ(b["sha256"], a["sha256"]);
  EXPECT_EQ(c["sha256"], a["sha256"]);
  auto cold = build("d", "--no-cache");
  EXPECT_FALSE(cold["cache"].contains("entryIndexes"));
  EXPECT_EQ(cold["sha256"], a["sha256"]);

  // A damaged index: a warning, the tarball is read, the index written again.
  auto index = tmp / "cache/trees" / indexes[0];
  std::string bytes = *read_file(index);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(index, bytes));
  auto e = build("e");
  EXPECT_EQ(e["cache"]["entryIndexes"], json({{"used", 0}, {"written", 1}}));
  EXPECT_NE(last_stderr().find("is damaged: checksum mismatch; the archive is read instead"),
            std::string::npos)
      << last_stderr();
  EXPECT_EQ(e["sha256"], a["sha256"]);

  // Another tarball at the same path: another digest, another tree.
  write_tar(tmp / "rootfs.tar", {TarEntry::file("etc/os-release", "ID=debian\n"),
                                 TarEntry::file("etc/issue", "new base\n")});
  auto f = build("f");
  EXPECT_EQ(f["cache"]["entryIndexes"]["used"], 0);
  EXPECT_NE(f["sha256"], a["sha256"]);
  EXPECT_EQ(
      run_command("unsquashfs -cat " + (tmp / "f/edge-1.2.3.squashfs").string() + " etc/issue").out,
      "new base\n");
}

// Two `edgeforge build` processes at once on one cache directory.
TEST_F(BuildCommandTest, TwoBuildsAtOnceShareTheBlockCache) {
  write_profile_with_big_file(2000000);
  ASSERT_EQ(edgeforge("build -p profile.yaml -o cold -q --cache-dir unused --no-cache").status, 0);
  std::string bin = EF_EDGEFORGE_BIN;
  auto both =
      run_command("cd " + tmp.path().string() + " && (" + bin +
                  " build -p profile.yaml -o x -q --cache-dir shared & " + bin +
                  " build -p profile.yaml -o y -q --cache-dir shared & wait %1 && wait %2)");
  ASSERT_EQ(both.status, 0) << both.out;
  auto cold = *sha256_file(tmp / "cold/edge-1.2.3.squashfs");
  EXPECT_EQ(*sha256_file(tmp / "x/edge-1.2.3.squashfs"), cold);
  EXPECT_EQ(*sha256_file(tmp / "y/edge-1.2.3.squashfs"), cold);
  auto third = json::parse(edgeforge("build -p profile.yaml -o z --cache-dir shared --json").out);
  EXPECT_EQ(third["cache"]["misses"], 0);
  EXPECT_EQ(third["sha256"], cold);
}

TEST_F(BuildCommandTest, HelpForEveryCommand) {
  for (std::string cmd : {"", "build ", "validate ", "inspect ", "cache prune "}) {
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

// Relative output directories reach every stage as paths that work whatever
// the working directory (libisofs looked the squashfs up from /), and the
// bundle of --sign-key lands beside them. xorriso and sfdisk read the results.
TEST_F(BuildCommandTest, RelativeOutputWorksForEveryFormatFromAnyDirectory) {
  write_basic_profile(std::string(kKernelLayer) + "  output:\n" + kSmallDisk);
  ASSERT_EQ(edgeforge("keygen --out keys").status, 0) << last_stderr();
  std::filesystem::create_directories(tmp / "sub");
  auto r = run_command("cd " + (tmp / "sub").string() + " && " + EF_EDGEFORGE_BIN +
                       " build -p ../profile.yaml -o ../rel/out --format squashfs,iso,raw "
                       "--sign-key ../keys/signing.key 2>" +
                       (tmp / "stderr").string());
  ASSERT_EQ(r.status, 0) << last_stderr();
  EXPECT_EQ(
      listing(tmp / "rel/out"),
      (std::vector<std::string>{"edge-1.2.3.efb", "edge-1.2.3.iso", "edge-1.2.3.manifest.json",
                                "edge-1.2.3.provenance.json", "edge-1.2.3.raw",
                                "edge-1.2.3.spdx.json", "edge-1.2.3.squashfs"}));
  auto iso = (tmp / "rel/out/edge-1.2.3.iso").string();
  auto torito = run_command("xorriso -indev " + iso + " -report_el_torito plain 2>/dev/null");
  EXPECT_NE(torito.out.find("El Torito boot img :   1  BIOS  y   none"), std::string::npos)
      << torito.out;
  auto squashfs = run_command("xorriso -indev " + iso + " -find /edgeforge -type f 2>/dev/null");
  EXPECT_NE(squashfs.out.find("'/edgeforge/rootfs.squashfs'"), std::string::npos) << squashfs.out;
  auto table = run_command("sfdisk -d " + (tmp / "rel/out/edge-1.2.3.raw").string());
  EXPECT_NE(table.out.find("name=\"edgeforge-slot-a\""), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("name=\"edgeforge-persist\""), std::string::npos) << table.out;
  // The paths printed are the ones given.
  EXPECT_NE(r.out.find("../rel/out/edge-1.2.3.squashfs  "), std::string::npos) << r.out;
  ASSERT_EQ(edgeforge("verify rel/out/edge-1.2.3.efb --keyring keys").status, 0) << last_stderr();
}

// Two kernels in /boot: each file says which one it is, each version has the
// modules the ISO and the ESP load; `with_link` adds link.tar (/vmlinuz).
std::string two_kernel_layer(bool with_link) {
  std::string layer = "    - files:\n";
  for (std::string v : {"6.1.0-9-amd64", "6.1.0-10-amd64"}) {
    std::string mods = "/usr/lib/modules/" + v;
    layer += "        - {path: /boot/vmlinuz-" + v + ", content: \"kernel " + v + "\"}\n" +
             "        - {path: /boot/initrd.img-" + v + ", content: \"initrd " + v + "\"}\n" +
             "        - {path: " + mods + "/modules.dep, content: " +
             "\"kernel/squashfs.ko:\\nkernel/overlay.ko:\\nkernel/isofs.ko:\\n\"}\n";
    for (std::string m : {"squashfs", "overlay", "isofs"})
      layer += "        - {path: " + mods + "/kernel/" + m + ".ko, content: \"" + m + "\"}\n";
  }
  if (with_link) layer += "    - tarball: {path: link.tar}\n";
  return layer + "  agent: {enabled: false}\n";
}

// With two kernels the installer ISO, the raw disk's ESP and the bundle
// manifest name the same kernel and initrd: the /vmlinuz link's target, else
// the highest in Debian version order (6.1.0-10 above 6.1.0-9, which byte
// order puts last). Before, the ISO and ESP took the byte-order last kernel
// whatever the link said, and the bundle refused an image without the link.
TEST_F(BuildCommandTest, EveryOutputBootsTheSameOfTwoKernels) {
  ASSERT_EQ(edgeforge("keygen --out keys").status, 0) << last_stderr();
  for (auto [link, want] :
       {std::pair{"", "6.1.0-10-amd64"}, std::pair{"boot/vmlinuz-6.1.0-9-amd64", "6.1.0-9-amd64"},
        std::pair{"boot/vmlinuz-6.1.0-10-amd64", "6.1.0-10-amd64"}}) {
    SCOPED_TRACE(std::string("/vmlinuz -> ") + link);
    if (*link != '\0') write_tar(tmp / "link.tar", {TarEntry::symlink("vmlinuz", link)});
    write_basic_profile(two_kernel_layer(*link != '\0') + "  output:\n" + kSmallDisk);
    std::filesystem::remove_all(tmp / "out");
    ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q --format squashfs,iso,raw "
                        "--sign-key keys/signing.key")
                  .status,
              0)
        << last_stderr();
    std::string kernel = std::string("kernel ") + want, initrd = std::string("initrd ") + want;

    auto iso = (tmp / "out/edge-1.2.3.iso").string();
    for (const char* f : {"vmlinuz", "initrd.img"}) {
      std::string local = (tmp / f).string();
      std::filesystem::remove(local);
      ASSERT_EQ(run_command("xorriso -osirrox on -indev " + iso + " -extract /boot/" + f + " " +
                            local + " >/dev/null 2>&1")
                    .status,
                0);
    }
    EXPECT_EQ(*read_file(tmp / "vmlinuz"), kernel);
    EXPECT_EQ(*read_file(tmp / "initrd.img"), initrd);

    EXPECT_EQ(edgeforge("inspect out/edge-1.2.3.raw --cat /slot-a/vmlinuz").out, kernel);
    EXPECT_EQ(edgeforge("inspect out/edge-1.2.3.raw --cat /slot-a/initrd.img").out, initrd);

    auto bundle = json::parse(edgeforge("inspect out/edge-1.2.3.efb --json").out);
    const json& boot = bundle["manifest"]["boot"];
    ASSERT_EQ(boot.size(), 2u) << bundle.dump();
    EXPECT_EQ(boot[0]["path"], "/boot/vmlinuz-" + std::string(want));
    EXPECT_EQ(boot[0]["sha256"], sha256_hex(kernel));
    EXPECT_EQ(boot[1]["path"], "/boot/initrd.img-" + std::string(want));
    EXPECT_EQ(boot[1]["sha256"], sha256_hex(initrd));

    // The release the build handed its bundle (boot files hashed while the
    // image was written) is the one `bundle` reads back from the outputs:
    // same bytes (Ed25519 signs deterministically).
    ASSERT_EQ(
        edgeforge("bundle --image out/edge-1.2.3.squashfs -k keys/signing.key -o again.efb").status,
        0)
        << last_stderr();
    EXPECT_EQ(*read_file(tmp / "again.efb"), *read_file(tmp / "out/edge-1.2.3.efb"));
  }
}

// A stage that fails late (raw, after the squashfs and the ISO were
// written) leaves no output, keeps the previous build's files as they were,
// and its error names where the format came from.
TEST_F(BuildCommandTest, ALateFailureLeavesNoOutputAndKeepsThePreviousBuild) {
  write_basic_profile(std::string(kKernelLayer) + "  output:\n" + kSmallDisk);
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q").status, 0) << last_stderr();
  auto before = listing(tmp / "out");
  ASSERT_EQ(before,
            (std::vector<std::string>{"edge-1.2.3.manifest.json", "edge-1.2.3.provenance.json",
                                      "edge-1.2.3.spdx.json", "edge-1.2.3.squashfs"}));
  std::string image = *read_file(tmp / "out/edge-1.2.3.squashfs");
  std::string manifest = *read_file(tmp / "out/edge-1.2.3.manifest.json");

  // The next build makes a different image and fails in sfdisk.
  write_basic_profile("    - files:\n        - {path: /etc/changed, content: \"2\"}\n" +
                      std::string(kKernelLayer) + "  output:\n" + kSmallDisk);
  tmp.write("bin/sfdisk", "#!/bin/sh\necho 'sfdisk: made to fail' >&2\nexit 1\n");
  std::filesystem::permissions(tmp / "bin/sfdisk", std::filesystem::perms::owner_all);
  std::string path = "PATH=" + (tmp / "bin").string() + ":$PATH";
  auto r = edgeforge("build -p profile.yaml -o out -q --format squashfs,iso,raw", path);
  EXPECT_EQ(r.status, 1);
  std::string err = last_stderr();
  EXPECT_NE(err.find("error: --format raw: "), std::string::npos) << err;
  EXPECT_NE(err.find("sfdisk"), std::string::npos) << err;
  EXPECT_EQ(listing(tmp / "out"), before);
  EXPECT_EQ(*read_file(tmp / "out/edge-1.2.3.squashfs"), image);
  EXPECT_EQ(*read_file(tmp / "out/edge-1.2.3.manifest.json"), manifest);

  // Formats from the profile: the error points at them.
  write_basic_profile(std::string(kKernelLayer) + "  output:\n" + kSmallDisk +
                      "    formats: [squashfs, raw]\n");
  r = edgeforge("build -p profile.yaml -o new -q", path);
  EXPECT_EQ(r.status, 1);
  err = last_stderr();
  EXPECT_NE(err.find((tmp / "profile.yaml").string() + ":22:14: spec.output.formats: raw: "),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "new"));
}

// Extended attributes squashfs cannot store are named, not just counted.
TEST_F(BuildCommandTest, DroppedXattrsAreNamed) {
  write_basic_profile("  agent: {enabled: false}\n");
  std::vector<TarEntry> entries = {TarEntry::dir("etc")};
  for (int i = 0; i < 5; ++i) {
    auto e = TarEntry::file("etc/f" + std::to_string(i), "x");
    e.xattrs = {{"system.posix_acl_access", "acl"}, {"user.kept", "1"}};
    entries.push_back(e);
  }
  write_tar(tmp / "acl.tar", entries);
  write_basic_profile("    - tarball: {path: acl.tar}\n  agent: {enabled: false}\n");
  auto r = edgeforge("build -p profile.yaml -o out");
  ASSERT_EQ(r.status, 0) << last_stderr();
  std::string err = last_stderr();
  EXPECT_NE(err.find("5 extended attribute(s)"), std::string::npos) << err;
  EXPECT_NE(err.find("system.posix_acl_access on /etc/f0, system.posix_acl_access on /etc/f1, "
                     "system.posix_acl_access on /etc/f2 and 2 more"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("/etc/f4"), std::string::npos) << err;
  auto manifest = json::parse(*read_file(tmp / "out/edge-1.2.3.manifest.json"));
  ASSERT_EQ(manifest["droppedXattrs"].size(), 5u);
  EXPECT_EQ(manifest["droppedXattrs"][4],
            (json{{"name", "system.posix_acl_access"}, {"path", "/etc/f4"}}));
  // -v lists every one of them.
  edgeforge("-v build -p profile.yaml -o out");
  EXPECT_NE(last_stderr().find("system.posix_acl_access on /etc/f4"), std::string::npos)
      << last_stderr();
}

// spec.secureBoot end to end through the command: the image's initramfs
// addition carries the dm-verity program, the disk is the same bytes on a
// second build, and the refusals are one line naming the profile key.
TEST_F(BuildCommandTest, SecureBootDisksAreReproducibleAndBadSetupsAreOneLine) {
  for (const char* k : {"db", "other"})
    ASSERT_EQ(
        run_command(std::string("openssl req -x509 -newkey rsa:2048 -nodes -days 30 ") +
                    "-subj /CN=" + k + " -keyout " + (tmp / (std::string(k) + ".key")).string() +
                    " -out " + (tmp / (std::string(k) + ".crt")).string() + " 2>/dev/null")
            .status,
        0);
  // The kernel layer with the agent, whose initramfs addition carries verity-open.
  std::string kernel = kKernelLayer;
  kernel.erase(kernel.find("  agent: {enabled: false}\n"));
  // What the initramfs runs from the image to seal the persistent partition.
  std::string tools = "    - files:\n";
  for (const char* path :
       {"/usr/sbin/cryptsetup", "/usr/bin/systemd-cryptenroll",
        "/usr/lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-systemd-tpm2.so",
        "/usr/lib/x86_64-linux-gnu/libtss2-esys.so.0", "/usr/lib/x86_64-linux-gnu/libtss2-rc.so.0",
        "/usr/lib/x86_64-linux-gnu/libtss2-mu.so.0",
        "/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0", "/usr/sbin/blkid",
        "/usr/sbin/mke2fs"})
    tools += "        - {path: " + std::string(path) + ", content: \"x\"}\n";
  auto profile = [&](const std::string& cert, bool with_tools = true) {
    write_basic_profile((with_tools ? tools : "") + kernel +
                        "  secureBoot: {key: db.key, certificate: " + cert + "}\n  output:\n" +
                        kSmallDisk);
  };
  // Without the image's cryptsetup & co: one line naming what to add.
  profile("db.crt", false);
  auto lacking = edgeforge("build -p profile.yaml -o lacking -q --format raw");
  EXPECT_EQ(lacking.status, 1);
  std::string why = last_stderr();
  EXPECT_EQ(std::count(why.begin(), why.end(), '\n'), 1) << why;
  EXPECT_NE(why.find("the image lacks /usr/sbin/cryptsetup and 8 more"), std::string::npos) << why;
  EXPECT_NE(why.find("cryptsetup-bin"), std::string::npos) << why;
  profile("db.crt");
  // With an epoch (the persistent ext4's timestamps come from it).
  const std::string epoch = "SOURCE_DATE_EPOCH=1747699200";
  ASSERT_EQ(edgeforge("keygen --out keys").status, 0) << last_stderr();
  ASSERT_EQ(
      edgeforge("build -p profile.yaml -o one -q --format raw --sign-key keys/signing.key", epoch)
          .status,
      0)
      << last_stderr();
  // (--sign-key puts its public key into the image's keyring: both builds get it.)
  ASSERT_EQ(edgeforge("build -p profile.yaml -o two -q --format raw --no-cache --sign-key "
                      "keys/signing.key",
                      epoch)
                .status,
            0)
      << last_stderr();
  EXPECT_EQ(*sha256_file(tmp / "one/edge-1.2.3.raw"), *sha256_file(tmp / "two/edge-1.2.3.raw"));
  auto cpio = run_command("unsquashfs -cat " + (tmp / "one/edge-1.2.3.squashfs").string() +
                          " usr/lib/edgeforge/boot/edgeforge.cpio | cpio -t 2>/dev/null");
  EXPECT_NE(cpio.out.find("edgeforge/bin/verity-open\n"), std::string::npos) << cpio.out;
  // The bundle carries the slot's signed kernel image for Secure Boot devices,
  // from the build and from `edgeforge bundle` alike (the same bytes).
  auto inspected = edgeforge("inspect one/edge-1.2.3.efb");
  EXPECT_NE(inspected.out.find("attachment  kernel-image edge-1.2.3.efi (application/efi)"),
            std::string::npos)
      << inspected.out;
  ASSERT_EQ(edgeforge("bundle --image one/edge-1.2.3.squashfs -o re.efb -q --sign-key "
                      "keys/signing.key")
                .status,
            0)
      << last_stderr();
  EXPECT_EQ(*read_file(tmp / "re.efb"), *read_file(tmp / "one/edge-1.2.3.efb"));
  auto manifest = nlohmann::json::parse(*read_file(tmp / "one/edge-1.2.3.manifest.json"));
  EXPECT_EQ(manifest["kernelImage"]["sha256"], *sha256_file(tmp / "one/edge-1.2.3.efi"));
  EXPECT_EQ(manifest["kernelImage"]["verityRootHash"],
            manifest["disk"]["secureBoot"]["verityRootHash"]);
  EXPECT_EQ(manifest["disk"]["secureBoot"]["bootManager"], "systemd-boot") << manifest["disk"];
  EXPECT_EQ(manifest["disk"]["secureBoot"]["verityRootHash"].get<std::string>().size(), 64u);

  auto r = edgeforge("build -p profile.yaml -o iso -q --format iso");
  EXPECT_EQ(r.status, 1);
  std::string err = last_stderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("--format iso: the installer ISO is not signed"), std::string::npos) << err;

  profile("other.crt");  // the certificate of another key
  r = edgeforge("build -p profile.yaml -o mismatch -q --format raw");
  EXPECT_EQ(r.status, 1);
  err = last_stderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find((tmp / "profile.yaml").string() + ":"), std::string::npos) << err;
  EXPECT_NE(err.find("spec.secureBoot"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "mismatch/edge-1.2.3.raw"));
}

}  // namespace
}  // namespace ef::test
