// json_integer<T>: integers from files and peers, checked where nlohmann's
// get<T>() would cast a float (undefined for 1e20) or wrap a negative.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "util/json_fields.hpp"

namespace ef::test {
namespace {

using nlohmann::json;

TEST(JsonIntegerTest, TakesIntegersThatFit) {
  EXPECT_EQ(json_integer<uint64_t>(json::parse("18446744073709551615")), UINT64_MAX);
  EXPECT_EQ(json_integer<int64_t>(json::parse("-9223372036854775808")), INT64_MIN);
  EXPECT_EQ(json_integer<int>(json::parse("-7")), -7);
  EXPECT_EQ(json_integer<uint32_t>(json::parse("4294967295")), UINT32_MAX);
  EXPECT_EQ(json_integer<int>(json(int64_t{12})), 12);  // a signed value built in code
}

TEST(JsonIntegerTest, RefusesFloatsAndOtherTypes) {
  for (const char* text : {"1.0276e+20", "1.5", "1e3", "-0.0", "\"5\"", "true", "null", "[1]"})
    EXPECT_THROW(json_integer<uint64_t>(json::parse(text)), json::type_error) << text;
}

TEST(JsonIntegerTest, RefusesWhatDoesNotFit) {
  EXPECT_THROW(json_integer<uint64_t>(json::parse("-1")), json::out_of_range);
  EXPECT_THROW(json_integer<int>(json::parse("2147483648")), json::out_of_range);
  EXPECT_THROW(json_integer<int>(json::parse("-2147483649")), json::out_of_range);
  EXPECT_THROW(json_integer<int64_t>(json::parse("9223372036854775808")), json::out_of_range);
  EXPECT_THROW(json_integer<uint32_t>(json(int64_t{5000000000})), json::out_of_range);
  EXPECT_THROW(json_integer<uint8_t>(json::parse("256")), json::out_of_range);
}

}  // namespace
}  // namespace ef::test
