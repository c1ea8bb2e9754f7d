#include "builder/build/inputs.hpp"
#include "builder/build/build.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

using build::InputHasher;
using build::ResolvedInput;

class InputHasherTest : public TempDirTest {
 protected:
  // A base tarball whose digest is not known yet, as resolve_inputs leaves it.
  ResolvedInput pending(const std::filesystem::path& file) {
    ResolvedInput in;
    in.role = "base";
    in.kind = "tarball";
    in.local = file;
    in.identity = *fetch::file_identity(file);
    return in;
  }
  fetch::Cache cache() { return fetch::Cache(fetch::CacheOptions{tmp / "cache"}); }
};

TEST_F(InputHasherTest, RecordsDigestsAndRemembersThem) {
  std::string big(3 << 20, 'x');  // several read chunks
  big += "tail";
  auto base = tmp.write("rootfs.tar", big);
  auto known = tmp.write("layer.tar", "layer");
  std::vector<ResolvedInput> inputs{pending(base), ResolvedInput{}};
  inputs[1].local = known;
  inputs[1].sha256 = "already known";
  auto c = cache();
  InputHasher hasher(inputs);
  ASSERT_TRUE(hasher.finish(inputs, c));
  EXPECT_EQ(inputs[0].sha256, sha256_hex(big));
  EXPECT_EQ(inputs[0].record["sha256"], sha256_hex(big));
  EXPECT_EQ(inputs[1].sha256, "already known");
  EXPECT_EQ(c.digest_memo().lookup(base, *inputs[0].identity), sha256_hex(big));
}

TEST_F(InputHasherTest, AFileChangedDuringTheBuildIsAnError) {
  auto base = tmp.write("rootfs.tar", "before");
  std::vector<ResolvedInput> inputs{pending(base)};
  auto c = cache();
  InputHasher hasher(inputs);
  std::ofstream(base, std::ios::app) << "after";
  auto finished = hasher.finish(inputs, c);
  ASSERT_FALSE(finished);
  EXPECT_NE(finished.error().message().find("changed while the image was built"), std::string::npos)
      << finished.error().message();
  EXPECT_FALSE(c.digest_memo().lookup(base, *fetch::file_identity(base)));
}

TEST_F(InputHasherTest, AnAbandonedBuildStopsTheThread) {
  auto base = tmp.write("rootfs.tar", std::string(8 << 20, 'y'));
  std::vector<ResolvedInput> inputs{pending(base)};
  { InputHasher hasher(inputs); }  // destroyed without finish(): must join, not hang or crash
  EXPECT_TRUE(inputs[0].sha256.empty());
}

// `validate --offline` names every input the cache lacks in one error: the
// mmdebstrap base, a downloaded layer and both k3s artifacts, each with the
// profile line that asks for it.
TEST_F(InputHasherTest, OfflineValidateListsEveryMissingInputWithItsLocation) {
  const std::string a(64, 'a'), b(64, 'b'), c(64, 'c');
  tmp.write("profile.yaml",
            "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\n"
            "metadata: {name: node, version: 1.0.0, epoch: 1700000000}\n"
            "spec:\n"
            "  base:\n"
            "    mmdebstrap: {suite: bookworm}\n"
            "  layers:\n"
            "    - tarball: {url: 'http://127.0.0.1:9/layer.tar', sha256: " +
                a +
                "}\n"
                "  agent: {enabled: false}\n"
                "  kubernetes:\n"
                "    distribution: k3s\n"
                "    version: v1.30.4+k3s1\n"
                "    artifacts:\n"
                "      k3s: {sha256: " +
                b + "}\n      k3s-airgap-images: {sha256: " + c + "}\n");
  fetch::CacheOptions o;
  o.dir = tmp / "cache";
  o.offline = true;
  auto p = build::validate_profile(tmp / "profile.yaml", o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Errc::offline);
  const std::string& msg = p.error().message();
  EXPECT_NE(msg.find("4 input(s) are not in the cache"), std::string::npos) << msg;
  EXPECT_NE(msg.find("profile.yaml:6:17: base: mmdebstrap bookworm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("profile.yaml:8:16: layer 1: http://127.0.0.1:9/layer.tar"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(": kubernetes artifact k3s (https://github.com/k3s-io/k3s/releases/download/"
                     "v1.30.4+k3s1/k3s, sha256 " +
                     b + ")"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find(": kubernetes artifact k3s-airgap-images ("), std::string::npos) << msg;
  EXPECT_NE(msg.find("profile.yaml:11:5: kubernetes artifact k3s ("), std::string::npos) << msg;
}

}  // namespace
}  // namespace ef::test
