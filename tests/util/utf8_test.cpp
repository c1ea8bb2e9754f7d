#include "util/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef {
namespace {

TEST(Utf8, AcceptsWellFormedTextAndFindsTheFirstBadByte) {
  EXPECT_FALSE(first_invalid_utf8(""));
  EXPECT_FALSE(first_invalid_utf8("plain ASCII\n"));
  EXPECT_FALSE(first_invalid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80 \xf4\x8f\xbf\xbf"));
  struct Case {
    std::string text;
    size_t at;
  };
  for (const auto& c : std::vector<Case>{
           {"ab\xe9", 2},            // Latin-1
           {"\xc0\xaf", 0},          // overlong '/'
           {"\xe0\x80\xaf", 0},      // overlong, three bytes
           {"\xf0\x80\x80\xaf", 0},  // overlong, four bytes
           {"x\xed\xa0\x80", 1},     // a UTF-16 surrogate
           {"\xf4\x90\x80\x80", 0},  // above U+10FFFF
           {"\xf5\x80\x80\x80", 0},  // no such lead byte
           {"ok\xe2\x82", 2},        // cut short at the end
           {"\xe2\x28\xa1", 0},      // a bad continuation byte
           {"\x80", 0},              // a lone continuation byte
       }) {
    auto at = first_invalid_utf8(c.text);
    ASSERT_TRUE(at) << testing::PrintToString(c.text);
    EXPECT_EQ(*at, c.at) << testing::PrintToString(c.text);
  }
}

TEST(Utf8, NamesLineAndColumnOfTheBadByte) {
  EXPECT_FALSE(not_utf8("fine\n"));
  EXPECT_EQ(not_utf8("a: 1\nb: caf\xe9\n").value_or(""),
            "2:7: not UTF-8 (byte 0xe9); save the file as UTF-8");
}

// iconv (glibc) as the oracle: every byte string it accepts as UTF-8 we
// accept, and the other way round.
TEST(Utf8, AgreesWithIconv) {
  test::TempDir tmp;
  uint32_t x = 12345;
  auto next = [&] {
    x = x * 1103515245u + 12345u;
    return static_cast<char>((x >> 16) & 0xff);
  };
  for (int i = 0; i < 200; ++i) {
    std::string s;
    int n = 1 + i % 7;
    for (int k = 0; k < n; ++k) {
      char c = next();
      // Bias towards multi-byte leads and continuation bytes.
      if (k > 0 && (x & 0x100)) c = static_cast<char>(0x80 | (c & 0x3f));
      s += c;
    }
    auto file = tmp / ("s" + std::to_string(i));
    ASSERT_TRUE(write_file_atomic(file, s));
    bool iconv_ok =
        test::run_command("iconv -f UTF-8 -t UTF-8 " + file.string() + " >/dev/null 2>&1").status ==
        0;
    EXPECT_EQ(!first_invalid_utf8(s).has_value(), iconv_ok) << testing::PrintToString(s);
  }
}

}  // namespace
}  // namespace ef
