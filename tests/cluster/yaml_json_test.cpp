// Rendered native configs must read back as the values that went in.
#include "builder/profile/yaml_json.hpp"

#include <gtest/gtest.h>

namespace ef::profile {
namespace {

TEST(YamlJsonTest, RoundTripKeepsTypesAndTrickyStrings) {
  nlohmann::json v = {{"mode", "0600"},
                      {"yes", "yes"},
                      {"num", 3},
                      {"float", 1.5},
                      {"flag", true},
                      {"none", nullptr},
                      {"colon", "a: b"},
                      {"hash", "x # y"},
                      {"empty", ""},
                      {"multi", "l1\nl2\n"},
                      {"list", {"a", 1, false}},
                      {"nested", {{"k", {{"deep", "v"}}}}},
                      {"emptyMap", nlohmann::json::object()},
                      {"emptyList", nlohmann::json::array()},
                      {"dash", "-x"},
                      {"url", "https://%{KUBERNETES_API}%/x"}};
  std::string text = json_to_yaml(v);
  auto back = parse_yaml_text(text, "test");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, v) << text;
}

TEST(YamlJsonTest, SyntaxErrorsCarryLineAndColumn) {
  auto r = parse_yaml_text("a: [1, 2\n", "f.yaml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("f.yaml:"), std::string::npos);
  EXPECT_NE(r.error().message().find("YAML syntax error"), std::string::npos);
}

}  // namespace
}  // namespace ef::profile
