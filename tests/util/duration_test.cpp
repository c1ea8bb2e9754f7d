#include "util/duration.hpp"

#include <gtest/gtest.h>

namespace ef {
namespace {

using std::chrono::seconds;

TEST(Duration, ParsesUnitsAndCombinations) {
  struct Case {
    const char* text;
    int64_t seconds;
  };
  for (const auto& c : std::initializer_list<Case>{{"90s", 90},
                                                   {"15m", 900},
                                                   {"4h", 14400},
                                                   {"1d", 86400},
                                                   {"1h30m", 5400},
                                                   {"1d2h3m4s", 93784},
                                                   {"0s", 0},
                                                   {"0090m", 5400}}) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d) << c.text << ": " << d.error().message();
    EXPECT_EQ(d->count(), c.seconds) << c.text;
  }
}

TEST(Duration, RejectsWithAMessageSayingWhy) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const auto& c : std::initializer_list<Case>{{"", "empty"},
                                                   {"-5m", "negative"},
                                                   {"5", "no unit"},
                                                   {"5w", "unknown unit 'w'"},
                                                   {"1.5h", "unknown unit '.'"},
                                                   {"h", "expected a number"},
                                                   {"30m1h", "largest first"},
                                                   {"1h1h", "largest first"},
                                                   {" 5m", "expected a number"},
                                                   {"5m ", "expected a number"},
                                                   {"99999999999999999999s", "too large"},
                                                   {"9999999999999d", "too large"},
                                                   {"40000000000000s", "too large"}}) {
    auto d = parse_duration(c.text);
    ASSERT_FALSE(d) << c.text;
    EXPECT_EQ(d.error().code(), Errc::invalid_argument);
    EXPECT_NE(d.error().message().find(c.why), std::string::npos) << d.error().message();
    EXPECT_NE(d.error().message().find(std::string("'") + c.text + "'"), std::string::npos);
  }
}

TEST(Duration, FormatsWhatItParses) {
  for (int64_t s : {0, 1, 59, 60, 90, 3600, 5400, 86400, 93784, 864000}) {
    auto text = format_duration(seconds(s));
    auto back = parse_duration(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back->count(), s) << text;
  }
  EXPECT_EQ(format_duration(seconds(5400)), "1h30m");
}

}  // namespace
}  // namespace ef
