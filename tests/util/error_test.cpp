#include "util/error.hpp"

#include <gtest/gtest.h>

namespace ef {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Error(Errc::invalid_argument, "must be positive");
  return v;
}

Result<int> doubled(int v) {
  EF_ASSIGN(int x, parse_positive(v));
  return x * 2;
}

Result<void> check(int v) {
  EF_TRY(parse_positive(v));
  return Ok{};
}

TEST(Error, ContextIsPrepended) {
  Error e(Errc::io, "disk full");
  EXPECT_EQ(e.with_context("writing out/a.squashfs").message(),
            "writing out/a.squashfs: disk full");
  EXPECT_EQ(e.code(), Errc::io);
  EXPECT_STREQ(errc_name(Errc::hostile_entry), "hostile_entry");
}

TEST(Error, MacrosPropagate) {
  EXPECT_EQ(*doubled(4), 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "must be positive");
  EXPECT_TRUE(check(1).ok());
  EXPECT_FALSE(check(0).ok());
}

}  // namespace
}  // namespace ef
