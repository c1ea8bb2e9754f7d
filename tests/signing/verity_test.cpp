#include "signing/verity.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::signing {
namespace {

namespace fs = std::filesystem;

const std::string kSalt = "5eed" + std::string(60, '1');

/// Reproducible pseudo-random bytes, so a failure can be replayed.
std::string random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

std::string read_all(const fs::path& p) {
  auto r = read_file(p);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : std::string();
}

void flip_bit(const fs::path& p, uint64_t offset) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x10));
}

std::string quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

bool have_veritysetup() {
  return test::have_tool("veritysetup");
}

std::string block_args(const VerityInfo& info) {
  return " --no-superblock --data-block-size=" + std::to_string(info.data_block_size) +
         " --hash-block-size=" + std::to_string(info.hash_block_size) +
         " --data-blocks=" + std::to_string(info.data_blocks) + " --salt=" + info.salt_hex +
         " --hash-offset=" + std::to_string(info.hash_offset);
}

/// `veritysetup verify`: the reference verifier accepts our tree and root.
bool oracle_verifies(const fs::path& data, const fs::path& tree, const VerityInfo& info) {
  auto out = test::run_command("veritysetup verify" + block_args(info) + " " + quote(data) + " " +
                               quote(tree) + " " + info.root_hash_hex + " 2>&1");
  return out.status == 0;
}

/// `veritysetup format` into `tree`; returns its root hash ("" on failure).
std::string oracle_format(const fs::path& data, const fs::path& tree, const VerityInfo& info) {
  auto out = test::run_command("veritysetup format" + block_args(info) + " " + quote(data) + " " +
                               quote(tree) + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
  // "Root hash:      \t<64 hex>"; std::regex is avoided for GCC 12's
  // false maybe-uninitialized warnings under the sanitizer build.
  size_t at = out.out.find("Root hash:");
  if (at == std::string::npos) return "";
  at = out.out.find_first_not_of(" \t", at + 10);
  return at == std::string::npos ? "" : out.out.substr(at, 64);
}

struct Shape {
  uint32_t data_block_size;
  uint32_t hash_block_size;
  uint64_t blocks;
};

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << s.blocks << "x" << s.data_block_size << "/hash" << s.hash_block_size;
}

class VerityOracle : public ::testing::TestWithParam<Shape> {
 protected:
  test::TempDir tmp;
};

// Separate tree file: same bytes and root hash as veritysetup, which also
// accepts the tree; and our verifier agrees.
TEST_P(VerityOracle, SeparateTreeMatchesVeritysetup) {
  if (!have_veritysetup()) GTEST_SKIP() << "veritysetup not installed (cryptsetup-bin)";
  const Shape& s = GetParam();
  auto data = tmp.write("data", random_bytes(s.blocks * s.data_block_size, s.blocks));
  VerityParams params{s.data_block_size, s.hash_block_size, kSalt};
  auto info = build_verity_tree(data, tmp / "tree", 0, params);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->data_blocks, s.blocks);
  EXPECT_EQ(info->tree_size, fs::file_size(tmp / "tree"));
  // What a device uses to find where a slot's tree ends, without building it.
  EXPECT_EQ(verity_tree_size(s.blocks, s.hash_block_size), info->tree_size);

  EXPECT_TRUE(oracle_verifies(data, tmp / "tree", *info));
  EXPECT_EQ(oracle_format(data, tmp / "tree2", *info), info->root_hash_hex);
  EXPECT_TRUE(read_all(tmp / "tree") == read_all(tmp / "tree2")) << "tree bytes differ";
  auto ok = verify_verity_tree(data, tmp / "tree", *info);
  EXPECT_TRUE(ok) << ok.error().message();
}

// Tree appended to the image at its end, as an image would ship.
TEST_P(VerityOracle, AppendedTreeMatchesVeritysetup) {
  if (!have_veritysetup()) GTEST_SKIP() << "veritysetup not installed (cryptsetup-bin)";
  const Shape& s = GetParam();
  std::string bytes = random_bytes(s.blocks * s.data_block_size, s.blocks + 1);
  if (bytes.size() % s.hash_block_size != 0) GTEST_SKIP() << "image end is not hash-aligned";
  auto image = tmp.write("image", bytes);
  auto reference = tmp.write("reference", bytes);
  auto info =
      build_verity_tree(image, image, bytes.size(), {s.data_block_size, s.hash_block_size, ""});
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->hash_offset, bytes.size());
  EXPECT_EQ(fs::file_size(image), bytes.size() + info->tree_size);

  EXPECT_TRUE(oracle_verifies(image, image, *info));
  EXPECT_EQ(oracle_format(reference, reference, *info), info->root_hash_hex);
  EXPECT_TRUE(read_all(image) == read_all(reference)) << "appended images differ";
  auto ok = verify_verity_tree(image, image, *info);
  EXPECT_TRUE(ok) << ok.error().message();
}

// 127/128/129 blocks straddle the 128 hashes a 4 KiB hash block holds; small
// blocks (16 hashes each) reach 3 and 4 levels with little data.
INSTANTIATE_TEST_SUITE_P(Shapes, VerityOracle,
                         ::testing::Values(Shape{4096, 4096, 1}, Shape{4096, 4096, 2},
                                           Shape{4096, 4096, 127}, Shape{4096, 4096, 128},
                                           Shape{4096, 4096, 129}, Shape{4096, 4096, 130},
                                           Shape{4096, 4096, 128 * 3 + 5}, Shape{512, 512, 256},
                                           Shape{512, 512, 257}, Shape{512, 512, 16 * 16 * 16 + 1},
                                           Shape{1024, 4096, 1000}, Shape{4096, 1024, 300}));

class VerityTest : public test::TempDirTest {
 protected:
  /// 300 blocks of 4 KiB: two levels, the lower one three blocks long.
  VerityInfo build(const fs::path& data, const fs::path& tree) {
    auto info = build_verity_tree(data, tree, 0);
    EXPECT_TRUE(info) << info.error().message();
    return info ? *info : VerityInfo{};
  }
  fs::path data_ = tmp.write("data", random_bytes(300 * 4096, 7));
};

TEST_F(VerityTest, FlippedDataBitIsNamed) {
  VerityInfo info = build(data_, tmp / "tree");
  flip_bit(data_, 123 * 4096 + 77);
  auto r = verify_verity_tree(data_, tmp / "tree", info);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::checksum);
  EXPECT_NE(r.error().message().find("data block 123 "), std::string::npos) << r.error().message();
  if (have_veritysetup()) {
    EXPECT_FALSE(oracle_verifies(data_, tmp / "tree", info));
  }
}

TEST_F(VerityTest, FlippedTreeBitsAreNamed) {
  VerityInfo info = build(data_, tmp / "tree");
  ASSERT_EQ(info.tree_size, 4 * 4096u);  // top block, then three level-0 blocks
  // A digest in the top block, a digest in level 0, and level-0 zero padding.
  for (uint64_t offset : {uint64_t{40}, uint64_t{2 * 4096 + 64}, uint64_t{3 * 4096 + 4000}}) {
    SCOPED_TRACE(offset);
    auto tree = tmp / ("tree" + std::to_string(offset));
    fs::copy_file(tmp / "tree", tree);
    flip_bit(tree, offset);
    auto r = verify_verity_tree(data_, tree, info);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::checksum);
    std::string block = "hash block " + std::to_string(offset / 4096) + " ";
    EXPECT_NE(r.error().message().find(block), std::string::npos) << r.error().message();
    if (have_veritysetup()) {
      EXPECT_FALSE(oracle_verifies(data_, tree, info));
    }
  }
}

TEST_F(VerityTest, WrongRootHashIsChecksum) {
  VerityInfo info = build(data_, tmp / "tree");
  info.root_hash_hex = sha256_hex("not the root");
  auto r = verify_verity_tree(data_, tmp / "tree", info);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::checksum);
}

TEST_F(VerityTest, SingleBlockHasNoTreeAndRootIsItsDigest) {
  // The kernel needs no levels for one block: the root is sha256(salt || block).
  std::string block = random_bytes(4096, 1);
  auto data = tmp.write("one", block);
  auto info = build_verity_tree(data, tmp / "tree", 0, {4096, 4096, kSalt});
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->tree_size, 0u);
  std::string salt;
  for (size_t i = 0; i < kSalt.size(); i += 2) {
    salt.push_back(static_cast<char>(std::stoi(kSalt.substr(i, 2), nullptr, 16)));
  }
  EXPECT_EQ(info->root_hash_hex, sha256_hex(salt + block));
  flip_bit(data, 5);
  auto r = verify_verity_tree(data, tmp / "tree", *info);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("data block 0 "), std::string::npos) << r.error().message();
}

TEST_F(VerityTest, SizeNotMultipleOfBlockIsRejected) {
  auto data = tmp.write("odd", random_bytes(4096 * 3 + 100, 3));
  auto r = build_verity_tree(data, tmp / "tree", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_NE(r.error().message().find("not a multiple of the verity data block size 4096"),
            std::string::npos)
      << r.error().message();
}

// Defined: empty data has no verity tree (veritysetup refuses it too).
TEST_F(VerityTest, EmptyDataIsRejected) {
  auto data = tmp.write("empty", "");
  auto r = build_verity_tree(data, tmp / "tree", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_NE(r.error().message().find("empty"), std::string::npos) << r.error().message();
}

TEST_F(VerityTest, BadParametersAreRejected) {
  auto code = [&](uint64_t offset, VerityParams p) {
    auto r = build_verity_tree(data_, tmp / "tree", offset, p);
    return r ? Errc::internal : r.error().code();
  };
  EXPECT_EQ(code(0, {1000, 4096, ""}), Errc::invalid_argument);
  EXPECT_EQ(code(0, {4096, 256, ""}), Errc::invalid_argument);
  EXPECT_EQ(code(0, {4096, 1 << 20, ""}), Errc::invalid_argument);
  EXPECT_EQ(code(100, {}), Errc::invalid_argument);
  EXPECT_EQ(code(0, {4096, 4096, "abc"}), Errc::invalid_argument);
  EXPECT_EQ(code(0, {4096, 4096, "zz"}), Errc::invalid_argument);
  auto missing = build_verity_tree(tmp / "missing", tmp / "tree", 0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
}

TEST_F(VerityTest, InconsistentInfoIsRejected) {
  VerityInfo info = build(data_, tmp / "tree");
  VerityInfo bad = info;
  bad.tree_size += 4096;
  EXPECT_EQ(verify_verity_tree(data_, tmp / "tree", bad).error().code(), Errc::invalid_argument);
  bad = info;
  bad.algorithm = "sha1";
  EXPECT_EQ(verify_verity_tree(data_, tmp / "tree", bad).error().code(), Errc::invalid_argument);
  bad = info;
  bad.data_blocks = 301;  // more blocks than the file has (and a bigger tree)
  bad.tree_size = info.tree_size;
  EXPECT_FALSE(verify_verity_tree(data_, tmp / "tree", bad));
}

TEST_F(VerityTest, TruncatedFilesAreIoErrors) {
  VerityInfo info = build(data_, tmp / "tree");
  fs::resize_file(tmp / "tree", info.tree_size - 1);
  EXPECT_EQ(verify_verity_tree(data_, tmp / "tree", info).error().code(), Errc::io);
  info = build(data_, tmp / "tree");
  fs::resize_file(data_, 299 * 4096);
  EXPECT_EQ(verify_verity_tree(data_, tmp / "tree", info).error().code(), Errc::io);
}

TEST_F(VerityTest, DefaultSaltIsDeterministicAndDocumented) {
  VerityInfo a = build(data_, tmp / "tree-a");
  VerityInfo b = build(data_, tmp / "tree-b");
  EXPECT_EQ(a.salt_hex, b.salt_hex);
  EXPECT_EQ(a.root_hash_hex, b.root_hash_hex);
  EXPECT_TRUE(read_all(tmp / "tree-a") == read_all(tmp / "tree-b"));
  EXPECT_EQ(a.salt_hex, sha256_hex("edgeforge-verity-salt:" + *sha256_file(data_)));

  auto other = tmp.write("other", random_bytes(300 * 4096, 8));
  VerityInfo c = build(other, tmp / "tree-c");
  EXPECT_NE(c.salt_hex, a.salt_hex);
  EXPECT_NE(c.root_hash_hex, a.root_hash_hex);
}

// Building again into the same image reuses the data before hash_offset, so
// re-running a build step rewrites the identical tree.
TEST_F(VerityTest, RebuildingAppendedTreeIsIdempotent) {
  uint64_t size = fs::file_size(data_);
  auto first = build_verity_tree(data_, data_, size);
  ASSERT_TRUE(first) << first.error().message();
  std::string once = read_all(data_);
  auto second = build_verity_tree(data_, data_, size);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->root_hash_hex, first->root_hash_hex);
  EXPECT_TRUE(read_all(data_) == once);
  EXPECT_TRUE(verify_verity_tree(data_, data_, *second));
}

}  // namespace
}  // namespace ef::signing
