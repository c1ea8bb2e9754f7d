// `extends`: merge order and rules, path resolution per declaring file,
// cycles, diamonds and the digest over all sources.
#include <gtest/gtest.h>

#include <cstdint>

#include "tests/profile/profile_fixture.hpp"
#include "util/sha256.hpp"

namespace ef::profile {
namespace {

constexpr std::string_view kApi = "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\n";

class ExtendsTest : public ProfileTest {
 protected:
  void SetUp() override {
    tmp.write("base/parent-root.tar", "p");
    tmp.write("base/p.tar", "p");
    tmp.write("top/c.tar", "c");
    tmp.write("top/img/index.json", "{}");
    tmp.write("base/parent.yaml", std::string(kApi) +
                                      "metadata:\n"
                                      "  name: parent\n"
                                      "  epoch: 5\n"
                                      "spec:\n"
                                      "  base:\n"
                                      "    tarball: {path: parent-root.tar}\n"
                                      "  layers:\n"
                                      "    - tarball: {path: p.tar}\n"
                                      "  output:\n"
                                      "    compression: xz\n"
                                      "    level: 9\n"
                                      "    blockSize: 65536\n");
  }
};

TEST_F(ExtendsTest, ListsAppendScalarsOverride) {
  auto r = load("top/child.yaml", std::string(kApi) +
                                      "metadata:\n"
                                      "  version: 2.0.0\n"
                                      "spec:\n"
                                      "  extends: [../base/parent.yaml]\n"
                                      "  layers:\n"
                                      "    - tarball: {path: c.tar}\n"
                                      "  output:\n"
                                      "    level: 3\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->name, "parent");
  EXPECT_EQ(r->version, "2.0.0");
  EXPECT_EQ(r->epoch, 5);
  // Each file's relative paths resolve against its own directory.
  EXPECT_EQ(r->base.tarball.path, tmp / "base/parent-root.tar");
  ASSERT_EQ(r->layers.size(), 2u);
  EXPECT_EQ(r->layers[0].tarball.path, tmp / "base/p.tar");
  EXPECT_EQ(r->layers[1].tarball.path, tmp / "top/c.tar");
  EXPECT_EQ(r->layers[0].loc.file, (tmp / "base/parent.yaml").string());
  // Output fields override one by one.
  EXPECT_EQ(r->output.compression, "xz");
  EXPECT_EQ(r->output.level, 3);
  EXPECT_EQ(r->output.block_size, 65536u);
  EXPECT_EQ(r->file, tmp / "top/child.yaml");
  EXPECT_EQ(r->sources,
            (std::vector<std::filesystem::path>{tmp / "base/parent.yaml", tmp / "top/child.yaml"}));
}

TEST_F(ExtendsTest, BaseAndMetadataOverrideAsAWhole) {
  auto r = load("top/child.yaml", std::string(kApi) +
                                      "metadata:\n"
                                      "  name: child\n"
                                      "  version: 1.0.0\n"
                                      "  epoch: 0\n"
                                      "spec:\n"
                                      "  extends: [../base/parent.yaml]\n"
                                      "  base:\n"
                                      "    oci: {path: img}\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->name, "child");
  EXPECT_EQ(r->epoch, 0);
  EXPECT_EQ(r->base.kind, Base::Kind::oci);
  EXPECT_EQ(r->base.oci.source.path, tmp / "top/img");
  EXPECT_TRUE(r->base.tarball.path.empty());
  EXPECT_EQ(r->layers.size(), 1u);
}

TEST_F(ExtendsTest, LevelIsCheckedAgainstTheMergedCompressor) {
  tmp.write("top/child.yaml", std::string(kApi) +
                                  "metadata: {name: c, version: 1.0.0}\n"
                                  "spec:\n"
                                  "  extends: [../base/parent.yaml]\n"
                                  "  output:\n"
                                  "    compression: lz4\n");
  auto r = load_profile(tmp / "top/child.yaml");
  EXPECT_PROFILE_ERROR(r, Errc::invalid_profile, at("base/parent.yaml", 13, 12),
                       "spec.output.level: lz4 takes no level; remove spec.output.level "
                       "(compression set at " +
                           at("top/child.yaml", 7, 18) + ")");
}

TEST_F(ExtendsTest, ErrorsInAnExtendedFilePointAtThatFile) {
  tmp.write("base/broken.yaml", std::string(kApi) + "spec:\n  layers:\n    - tarball: {}\n");
  auto r = load("top/child.yaml", std::string(kApi) +
                                      "metadata: {name: c, version: 1.0.0}\n"
                                      "spec:\n"
                                      "  extends: [../base/parent.yaml, ../base/broken.yaml]\n");
  EXPECT_PROFILE_ERROR(r, Errc::invalid_profile, at("base/broken.yaml", 5, 16),
                       "spec.layers[0].tarball: expected exactly one of path, url, got none");
}

TEST_F(ExtendsTest, ChainsResolveEachLevelAgainstItsOwnFile) {
  tmp.write("mid/m.tar", "m");
  tmp.write("mid/mid.yaml", std::string(kApi) +
                                "spec:\n"
                                "  extends: [../base/parent.yaml]\n"
                                "  layers: [{tarball: {path: m.tar}}]\n");
  auto r = load("top/child.yaml", std::string(kApi) +
                                      "metadata: {version: 1.0.0}\n"
                                      "spec:\n"
                                      "  extends: [../mid/mid.yaml]\n"
                                      "  layers: [{tarball: {path: c.tar}}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->layers.size(), 3u);
  EXPECT_EQ(r->layers[0].tarball.path, tmp / "base/p.tar");
  EXPECT_EQ(r->layers[1].tarball.path, tmp / "mid/m.tar");
  EXPECT_EQ(r->layers[2].tarball.path, tmp / "top/c.tar");
  EXPECT_EQ(r->sources.size(), 3u);
}

TEST_F(ProfileTest, DiamondLoadsTheSharedFileOnce) {
  tmp.write("common.yaml",
            std::string(kApi) + "spec:\n  layers: [{files: [{path: /c, content: c}]}]\n");
  for (const char* name : {"a", "b"}) {
    tmp.write(std::string(name) + ".yaml",
              std::string(kApi) + "spec:\n  extends: [common.yaml]\n  layers: [{files: [{path: /" +
                  name + ", content: x}]}]\n");
  }
  auto r =
      load("top.yaml", std::string(kHead) + std::string(kBase) + "  extends: [a.yaml, b.yaml]\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->sources, (std::vector<std::filesystem::path>{tmp / "common.yaml", tmp / "a.yaml",
                                                            tmp / "b.yaml", tmp / "top.yaml"}));
  ASSERT_EQ(r->layers.size(), 3u);
  EXPECT_EQ(r->layers[0].files.at(0).path, "/c");
  EXPECT_EQ(r->layers[1].files.at(0).path, "/a");
  EXPECT_EQ(r->layers[2].files.at(0).path, "/b");
}

TEST_F(ProfileTest, TwoFileCycle) {
  tmp.write("a.yaml", std::string(kApi) + "spec:\n  extends: [b.yaml]\n");
  tmp.write("b.yaml", std::string(kApi) + "spec:\n  extends: [a.yaml]\n");
  auto r = load_profile(tmp / "a.yaml");
  EXPECT_PROFILE_ERROR(r, Errc::invalid_profile, at("b.yaml", 4, 13),
                       "extends cycle: a.yaml -> b.yaml -> a.yaml");
}

TEST_F(ProfileTest, SelfCycle) {
  auto r = load("a.yaml", std::string(kApi) + "spec:\n  extends: [./a.yaml]\n");
  EXPECT_PROFILE_ERROR(r, Errc::invalid_profile, at("a.yaml", 4, 13),
                       "extends cycle: a.yaml -> a.yaml");
}

TEST_F(ProfileTest, CycleAcrossDirectoriesAndSymlinks) {
  tmp.write("sub/b.yaml", std::string(kApi) + "spec:\n  extends: [../link.yaml]\n");
  std::filesystem::create_symlink("a.yaml", tmp / "link.yaml");
  auto r = load("a.yaml", std::string(kApi) + "spec:\n  extends: [sub/b.yaml]\n");
  EXPECT_PROFILE_ERROR(r, Errc::invalid_profile, at("sub/b.yaml", 4, 13),
                       "extends cycle: a.yaml -> sub/b.yaml -> link.yaml");
}

std::string expected_digest(const std::vector<std::string>& contents) {
  Sha256 h;
  for (const auto& c : contents) {
    uint64_t n = c.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(n >> (8 * i));
    h.update(le, 8);
    h.update(c);
  }
  return h.hex_digest();
}

TEST_F(ProfileTest, DigestCoversEverySourceInOrder) {
  const std::string parent = std::string(kApi) + "spec:\n  layers: []\n";
  const std::string child = std::string(kHead) + std::string(kBase) + "  extends: [p.yaml]\n";
  tmp.write("p.yaml", parent);
  auto first = load("c.yaml", child);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->digest, expected_digest({parent, child}));
  EXPECT_NE(first->digest, sha256_hex(parent + child));  // length-prefixed

  EXPECT_EQ(load("c.yaml", child)->digest, first->digest);  // stable
  tmp.write("p.yaml", parent + "# comment\n");
  auto parent_changed = load_profile(tmp / "c.yaml");
  ASSERT_TRUE(parent_changed.ok());
  EXPECT_NE(parent_changed->digest, first->digest);
  tmp.write("p.yaml", parent);
  auto child_changed = load("c.yaml", child + "\n");
  ASSERT_TRUE(child_changed.ok());
  EXPECT_NE(child_changed->digest, first->digest);
}

}  // namespace
}  // namespace ef::profile
