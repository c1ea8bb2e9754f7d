#include "builder/build/inputs.hpp"

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

}  // namespace
}  // namespace ef::test
