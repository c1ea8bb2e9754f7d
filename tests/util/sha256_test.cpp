#include "util/sha256.hpp"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.hpp"

namespace ef {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256, DigestSoFarLeavesTheHasherOpen) {
  Sha256 h;
  h.update("ab");
  EXPECT_EQ(h.hex_digest_so_far(), sha256_hex("ab"));
  h.update("c");
  EXPECT_EQ(h.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256, FileAndValidation) {
  test::TempDir tmp;
  auto p = tmp.write("f", "abc");
  EXPECT_EQ(*sha256_file(p), sha256_hex("abc"));
  EXPECT_FALSE(sha256_file(tmp / "missing"));
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("abc"));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace ef
