// UTC timestamps in their one spelling, checked against GNU date.
#include "util/utc_time.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/date_oracle.hpp"

namespace ef {
namespace {

TEST(UtcTime, FormatAndParseAgreeWithDate) {
  std::mt19937_64 rng(5);
  std::vector<UnixSeconds> times = {0, 951782400 /* 2000-02-29 */, 4107542399 /* 2100-02-28 */};
  for (int i = 0; i < 300; ++i) times.push_back(static_cast<UnixSeconds>(rng() % 8'000'000'000));
  std::vector<std::string> inputs;
  for (UnixSeconds t : times) inputs.push_back("@" + std::to_string(t));
  auto expected = test::date_oracle("UTC", inputs, "%Y-%m-%dT%H:%M:%SZ");
  ASSERT_EQ(expected.size(), times.size()) << "date failed";
  for (size_t i = 0; i < times.size(); ++i) {
    EXPECT_EQ(format_utc(times[i]), expected[i]) << times[i];
    auto back = parse_utc(expected[i]);
    ASSERT_TRUE(back) << expected[i];
    EXPECT_EQ(*back, times[i]) << expected[i];
  }
}

TEST(UtcTime, OnlyTheOneSpellingParses) {
  for (const char* bad : {"", "2026-12-05", "2026-12-05T23:00:00", "2026-12-05T23:00:00+00:00",
                          "2026-12-05T23:00:00.5Z", "2026-12-05 23:00:00Z", "2026-02-30T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
                          "2026-12-00T00:00:00Z", "2026-12-05T24:00:00Z", "2026-12-05T23:60:00Z",
                          "2026-12-05T23:00:60Z", "1969-12-31T23:59:59Z", "2026-12-05t23:00:00z"}) {
    auto r = parse_utc(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("is not a UTC time"), std::string::npos);
  }
  EXPECT_TRUE(parse_utc("2024-02-29T12:00:00Z"));
}

}  // namespace
}  // namespace ef
