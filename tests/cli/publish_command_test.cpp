// Delta updates from the operator's side: publish two releases into one
// chunk store, and delta-stats' numbers — the same planner — match what the
// second publish had to add. zstd and sha256sum read the store.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "tests/cli/cli_fixture.hpp"
#include "tests/support/registry.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

using nlohmann::json;

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(rng());
  return out;
}

class PublishCommandTest : public CliTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(edgeforge("keygen --out keys").status, 0) << last_stderr();
    // Incompressible data squashfs stores as it is, so a small change stays small.
    write_tar(tmp / "data.tar", {TarEntry::file("opt/data/big.bin", random_bytes(3 << 20, 1)),
                                 TarEntry::file("opt/data/small.txt", "one\n")});
    write_tar(tmp / "data2.tar", {TarEntry::file("opt/data/big.bin", random_bytes(3 << 20, 1)),
                                  TarEntry::file("opt/data/small.txt", "two\n")});
  }
  // Builds and signs release `version` with the data layer `tar`.
  void release(const std::string& version, const std::string& tar) {
    write_basic_profile("    - tarball: {path: " + tar + "}\n");
    auto p = *read_file(tmp / "profile.yaml");
    p.replace(p.find("version: 1.2.3"), 14, "version: " + version);
    tmp.write("profile.yaml", p);
    ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q --sign-key keys/signing.key").status, 0)
        << last_stderr();
  }
  json run_json(const std::string& args) {
    auto r = edgeforge(args + " --json");
    EXPECT_EQ(r.status, 0) << args << ": " << last_stderr();
    return json::parse(r.out, nullptr, false);
  }
};

TEST_F(PublishCommandTest, OneStoreServesBothReleasesAndTheSecondAddsOnlyWhatChanged) {
  release("1.0.0", "data.tar");
  release("1.1.0", "data2.tar");
  json first = run_json("publish out/edge-1.0.0.efb --to store");
  EXPECT_EQ(first["head"], "store/edge-1.0.0.efbh");
  EXPECT_EQ(first["presentChunks"], 0);
  EXPECT_EQ(first["writtenChunks"], first["chunks"]);
  json again = run_json("publish out/edge-1.0.0.efb --to store");
  EXPECT_EQ(again["writtenChunks"], 0);
  EXPECT_EQ(again["presentChunks"], first["chunks"]);

  json stats = run_json("delta-stats out/edge-1.0.0.efb out/edge-1.1.0.efb");
  json second = run_json("publish out/edge-1.1.0.efb --to store");
  EXPECT_GT(second["presentChunks"].get<int>(), 0);
  // The store gets the new verity tree too; a device builds it instead.
  EXPECT_GT(stats["computedChunks"].get<uint64_t>(), 0u) << stats.dump();
  EXPECT_EQ(second["writtenChunks"].get<uint64_t>(),
            stats["downloadChunks"].get<uint64_t>() + stats["computedChunks"].get<uint64_t>());
  EXPECT_EQ(stats["chunks"].get<uint64_t>(), stats["reusedChunks"].get<uint64_t>() +
                                                 stats["downloadChunks"].get<uint64_t>() +
                                                 stats["computedChunks"].get<uint64_t>() +
                                                 0 /* no repeated chunks in this payload */);
  EXPECT_FALSE(stats["full"].get<bool>());
  // A one-line change costs a few chunks, not the 3 MiB file.
  EXPECT_LT(stats["downloadBytes"].get<uint64_t>(), stats["fullBytes"].get<uint64_t>() / 3)
      << stats.dump();
  // Images give the same numbers as their bundles.
  json from_images = run_json("delta-stats out/edge-1.0.0.squashfs out/edge-1.1.0.squashfs");
  EXPECT_EQ(from_images["downloadBytes"], stats["downloadBytes"]);
  EXPECT_EQ(from_images["reusedChunks"], stats["reusedChunks"]);

  // The head is the bundle up to its payload, then the index; every indexed
  // chunk is in the store, as itself or as a zstd frame of itself.
  auto bundle = *read_file(tmp / "out/edge-1.1.0.efb");
  auto head = *read_file(tmp / "store/edge-1.1.0.efbh");
  auto inspect = json::parse(edgeforge("inspect out/edge-1.1.0.efb --json").out);
  uint64_t payload_offset = inspect["header"]["payloadOffset"].get<uint64_t>();
  ASSERT_GT(head.size(), payload_offset);
  EXPECT_EQ(head.substr(0, payload_offset), bundle.substr(0, payload_offset));
  std::string script =
      "cd " + tmp.path().string() + " && tail -c +" + std::to_string(payload_offset + 1) +
      " store/edge-1.1.0.efbh | while read -r off size sha; do "
      "f=store/chunks/${sha:0:4}/$sha; "
      "if [ $(stat -c %s $f) -eq $size ]; then got=$(sha256sum < $f); "
      "else got=$(zstd -dc < $f | sha256sum); fi; "
      "[ \"${got%% *}\" = $sha ] || { echo BAD $sha; exit 1; }; done && echo ALLGOOD";
  tmp.write("check-store.sh", script);
  auto r = run_command("bash " + (tmp / "check-store.sh").string());
  EXPECT_NE(r.out.find("ALLGOOD"), std::string::npos) << r.out;
}

TEST_F(PublishCommandTest, BadInputIsOneLine) {
  EXPECT_EQ(edgeforge("publish missing.efb --to store").status, 1);
  auto err = last_stderr();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("missing.efb"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "store"));
  EXPECT_EQ(edgeforge("delta-stats a.squashfs b.squashfs").status, 1);
  EXPECT_NE(last_stderr().find("b.squashfs"), std::string::npos) << last_stderr();
  EXPECT_EQ(edgeforge("publish").status, 2);  // usage
}

// Two releases to one OCI repository: the second sends only the blobs the
// first did not; the registry's own API (curl) shows the tags and an
// artifact manifest whose layers are the head and every chunk.
TEST_F(PublishCommandTest, ToAnOciRegistryEachBlobOnce) {
  Registry registry(tmp / "registry");
  ASSERT_TRUE(registry.ok()) << *read_file(registry.log());
  release("1.0.0", "data.tar");
  release("1.1.0", "data2.tar");
  std::string repo = "oci://" + registry.host() + "/edge/store";
  json first = run_json("publish out/edge-1.0.0.efb --to " + repo);
  EXPECT_EQ(first["head"], repo + ":1.0.0");
  EXPECT_EQ(first["presentChunks"], 0);
  json second = run_json("publish out/edge-1.1.0.efb --to " + repo);
  json stats = run_json("delta-stats out/edge-1.0.0.efb out/edge-1.1.0.efb");
  EXPECT_EQ(second["writtenChunks"].get<uint64_t>(),
            stats["downloadChunks"].get<uint64_t>() + stats["computedChunks"].get<uint64_t>());
  EXPECT_EQ(second["presentChunks"], stats["reusedChunks"]);

  std::string api = "http://" + registry.host() + "/v2/edge/store/";
  auto tags = json::parse(run_command("curl -sf " + api + "tags/list").out, nullptr, false);
  ASSERT_TRUE(tags.is_object());
  EXPECT_EQ(tags["tags"].size(), 2u) << tags.dump();
  auto manifest =
      json::parse(run_command("curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' " +
                              api + "manifests/1.1.0")
                      .out,
                  nullptr, false);
  ASSERT_TRUE(manifest.is_object());
  EXPECT_EQ(manifest["artifactType"], "application/vnd.edgeforge.bundle.v1");
  EXPECT_EQ(manifest["layers"].size(), second["chunks"].get<size_t>() + 1);
  EXPECT_EQ(manifest["layers"][0]["mediaType"], "application/vnd.edgeforge.bundle-head.v1");
  // A chunk blob is the chunk's bytes: its digest is what sha256sum says.
  std::string chunk = manifest["layers"][1]["digest"];
  auto sum = run_command("curl -sf " + api + "blobs/" + chunk + " | sha256sum");
  EXPECT_EQ("sha256:" + sum.out.substr(0, 64), chunk);

  // A registry that is not there: one line naming it.
  EXPECT_EQ(edgeforge("publish out/edge-1.0.0.efb --to oci://127.0.0.1:9/edge/store").status, 1);
  EXPECT_NE(last_stderr().find("127.0.0.1:9"), std::string::npos) << last_stderr();
  EXPECT_EQ(edgeforge("publish out/edge-1.0.0.efb --to oci://nohost").status, 1);
  EXPECT_NE(last_stderr().find("oci://HOST[:PORT]/REPOSITORY[:TAG]"), std::string::npos);
}

}  // namespace
}  // namespace ef::test
