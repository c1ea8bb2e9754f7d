#include "util/canonical_json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ef {
namespace {

std::string error_of(std::string_view text, JsonLimits limits = {}) {
  auto r = parse_canonical_json(text, limits);
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  return r.error().message();
}

TEST(CanonicalJson, AcceptsCanonicalText) {
  for (const char* text : {R"({})", R"([])", R"({"a":1,"b":[true,false,null],"c":{"d":"e"}})",
                           R"(-5)", R"("tab\tquote\"backslash\\nl\n ctl\u001f é ✓")",
                           R"({"A":1,"B":2,"a":3})", R"(18446744073709551615)"}) {
    auto r = parse_canonical_json(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message();
    EXPECT_EQ(*canonical_json(*r), text);
  }
}

TEST(CanonicalJson, EachViolationHasItsOwnMessage) {
  EXPECT_NE(error_of(R"({"b":1,"a":2})").find("not in canonical form"), std::string::npos);
  EXPECT_NE(error_of(R"({"a": 1})").find("first difference at byte 5"), std::string::npos);
  EXPECT_NE(error_of(R"("\u0041")").find("not in canonical form"), std::string::npos);
  EXPECT_NE(error_of(R"({"a":1,"a":1})").find("duplicate key \"a\""), std::string::npos);
  EXPECT_NE(error_of(R"({"x":{"a":1,"a":2}})").find("duplicate key \"a\" in \"x\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"a":1.5})").find("number 1.5 at \"a\" is not an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"a":1e3})").find("not an integer"), std::string::npos);
  EXPECT_NE(error_of(R"({"a":)").find("not valid JSON at byte"), std::string::npos);
  EXPECT_NE(error_of("\"\xff\"").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({} {})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("").find("not valid JSON"), std::string::npos);
}

TEST(CanonicalJson, BoundsDepthAndSizeBeforeBuildingAnything) {
  JsonLimits limits;
  limits.max_depth = 3;
  EXPECT_EQ(error_of(R"({"a":{"b":[]}})", limits), "(accepted)");
  EXPECT_NE(
      error_of(R"({"a":{"b":[[]]}})", limits).find("nested deeper than 3 levels at \"a.b[0]\""),
      std::string::npos);
  // A million brackets would overflow a recursive parser's stack.
  std::string deep(1000000, '[');
  EXPECT_NE(error_of(deep, JsonLimits{2000000, 8}).find("nested deeper than 8"), std::string::npos);
  limits = {};
  limits.max_bytes = 10;
  EXPECT_NE(error_of(R"({"a":"0123456789"})", limits).find("more than the limit of 10"),
            std::string::npos);
}

TEST(CanonicalJson, RefusesToWriteFloats) {
  nlohmann::json v = {{"a", {1, 2.5}}};
  auto r = canonical_json(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("integers only"), std::string::npos);
}

}  // namespace
}  // namespace ef
