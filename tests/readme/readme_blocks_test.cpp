// The README parser on small READMEs: markers, continuations, errors.
#include "tests/readme/readme_blocks.hpp"

#include <gtest/gtest.h>

namespace ef::test::readme {
namespace {

TEST(ReadmeBlocks, CommandsCarryTheirReadmeLineAndJoinContinuations) {
  auto r = parse_readme(
      "# title\n\n```sh\n# a comment\nedgeforge inspect out/x.squashfs   # trailing\n"
      "edgeforge build -p a.yaml \\\n  --format iso\n```\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].fence_line, 3);
  auto c = r.blocks[0].commands();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].line, 5);
  EXPECT_EQ(c[0].text, "edgeforge inspect out/x.squashfs   # trailing");
  EXPECT_EQ(c[1].line, 6);
  EXPECT_EQ(c[1].text, "edgeforge build -p a.yaml  --format iso");
}

TEST(ReadmeBlocks, MarkersSkipABlockOrOneCommand) {
  auto r = parse_readme(
      "<!-- readme-test: skip: on a device -->\n```sh\nedgeforge-agent status\n```\n"
      "<!-- readme-test: skip-command ./scripts/test.sh: CI runs it -->\n"
      "```sh\n./scripts/quickstart.sh\n./scripts/test.sh  # all tests\n```\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].skip_reason, "on a device");
  auto c = r.blocks[1].commands();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].skip_reason, "");
  EXPECT_EQ(c[1].skip_reason, "CI runs it");
}

TEST(ReadmeBlocks, UnrunnableOrUnmarkedShellBlocksAreErrors) {
  auto r = parse_readme(
      "```bash\nls\n```\n<!-- readme-test: skip: -->\n```sh\nls\n```\n"
      "<!-- readme-test: sometimes -->\n```sh\nls\n```\n"
      "<!-- readme-test: skip-command nothing: no such command -->\n```sh\nls\n```\n"
      "<!-- readme-test: skip: dangling -->\ntext\n```yaml\na: 1\n```\n");
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0].rfind("README.md:1: command block as ```bash", 0), 0u) << r.errors[0];
  EXPECT_EQ(r.errors[1], "README.md:4: skip marker without a reason");
  EXPECT_EQ(r.errors[2].rfind("README.md:8: unknown readme-test marker", 0), 0u) << r.errors[2];
  EXPECT_EQ(r.errors[3].rfind("README.md:13: skip-command 'nothing' matches no command", 0), 0u)
      << r.errors[3];
  EXPECT_EQ(r.errors[4], "README.md:16: readme-test marker not followed by a fenced block");
}

TEST(ReadmeBlocks, ReferenceRowsAndWords) {
  auto r = parse_readme(
      "| command | does | options |\n| --- | --- | --- |\n"
      "| `edgeforge inspect` | reads | `IMAGE`, `--partition a\\|b`, `-q` |\n");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].line, 3);
  EXPECT_EQ(r.rows[0].command, "edgeforge inspect");
  EXPECT_EQ(r.rows[0].spans, (std::vector<std::string>{"IMAGE", "--partition a|b", "-q"}));
  EXPECT_EQ(words("edgeforge inspect 'a b' | grep x  # c"),
            (std::vector<std::string>{"edgeforge", "inspect", "a b"}));
}

}  // namespace
}  // namespace ef::test::readme
