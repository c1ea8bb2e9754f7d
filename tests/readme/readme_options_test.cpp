// The quick-loop half of the README tests: every `edgeforge` and
// `edgeforge-agent` command in README.md (its shell blocks, run or skipped,
// and its reference table) names a real subcommand and real options of that
// subcommand, as the built programs' --help lists them. The e2e half
// (readme_e2e_test.cpp) runs the commands.
#include <gtest/gtest.h>

#include <cctype>
#include <map>

#include "tests/readme/readme_blocks.hpp"
#include "tests/support/command.hpp"
#include "util/atomic_file.hpp"

namespace ef::test::readme {
namespace {

const std::map<std::string, std::string> kPrograms = {{"edgeforge", EF_EDGEFORGE_BIN},
                                                      {"edgeforge-agent", EF_AGENT_BIN}};

// `program [subcommand] --help`, memoised.
const std::string& help(const std::string& program, const std::string& subcommand) {
  static std::map<std::string, std::string> memo;
  std::string key = program + " " + subcommand;
  auto it = memo.find(key);
  if (it != memo.end()) return it->second;
  auto r = run_command(kPrograms.at(program) + " " + subcommand + " --help 2>&1");
  return memo[key] = r.status == 0 ? r.out : "";
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
}

// `name` as a whole word of `help` (CLI11 lists "-p,--profile TEXT").
bool lists(const std::string& help_text, const std::string& name) {
  for (size_t at = help_text.find(name); at != std::string::npos;
       at = help_text.find(name, at + 1)) {
    bool starts = at == 0 || help_text[at - 1] == ' ' || help_text[at - 1] == ',';
    size_t end = at + name.size();
    if (starts && (end == help_text.size() || !is_name_char(help_text[end]))) return true;
  }
  return false;
}

// "--format=iso" -> "--format"; "[--reboot]" -> "--reboot"; "-p" stays.
std::string option_name(std::string word) {
  while (!word.empty() && word.front() == '[') word.erase(0, 1);
  size_t end = word.find_first_of("=],|");
  return word.substr(0, end);
}

struct Use {
  std::string where;  // README.md:LINE
  std::vector<std::string> words;
};

std::vector<Use> uses() {
  auto text = read_file(std::string(EF_SOURCE_DIR) + "/README.md");
  EXPECT_TRUE(text.ok());
  if (!text) return {};
  auto readme = parse_readme(*text);
  std::vector<Use> out;
  for (const auto& block : readme.blocks) {
    if (!block.is_shell()) continue;
    for (const auto& c : block.commands())
      out.push_back({"README.md:" + std::to_string(c.line), words(c.text)});
  }
  for (const auto& row : readme.rows) {
    Use use{"README.md:" + std::to_string(row.line), words(row.command)};
    for (const auto& span : row.spans) {
      auto w = words(span);
      if (!w.empty() && w[0][0] == '-') use.words.push_back(w[0]);
    }
    out.push_back(std::move(use));
  }
  return out;
}

TEST(ReadmeOptions, EveryShellBlockIsWellFormedAndMarked) {
  auto text = read_file(std::string(EF_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(text.ok());
  auto readme = parse_readme(*text);
  for (const auto& e : readme.errors) ADD_FAILURE() << e;
  EXPECT_FALSE(readme.rows.empty()) << "README.md lost its reference table";
}

// The quick start is the README's first command block and has exactly the two
// set-up commands.
TEST(ReadmeOptions, QuickStartIsTheTwoSetUpCommands) {
  auto text = read_file(std::string(EF_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(text.ok());
  auto readme = parse_readme(*text);
  ASSERT_FALSE(readme.blocks.empty());
  std::vector<std::string> programs;
  for (const auto& c : readme.blocks[0].commands()) programs.push_back(words(c.text).at(0));
  EXPECT_EQ(programs, (std::vector<std::string>{"./scripts/quickstart.sh", "./scripts/test.sh"}));
}

TEST(ReadmeOptions, EveryCommandNamesARealSubcommandAndRealOptions) {
  size_t checked = 0;
  for (const auto& use : uses()) {
    if (use.words.empty() || !kPrograms.count(use.words[0])) continue;
    const std::string& program = use.words[0];
    ASSERT_GE(use.words.size(), 2u) << use.where << ": " << program << " without a command";
    std::string sub = use.words[1];
    ASSERT_FALSE(help(program, "").empty()) << program << " --help failed";
    if (!lists(help(program, ""), sub) || help(program, sub).empty()) {
      ADD_FAILURE() << use.where << ": " << program << " has no command '" << sub << "'";
      continue;
    }
    size_t first_option = 2;
    // A nested command ("edgeforge channel release"): its own help lists its options.
    if (use.words.size() > 2 && use.words[2][0] != '-' &&
        help(program, sub).find("Subcommands:") != std::string::npos) {
      if (!lists(help(program, sub), use.words[2]) ||
          help(program, sub + " " + use.words[2]).empty()) {
        ADD_FAILURE() << use.where << ": '" << program << " " << sub << "' has no command '"
                      << use.words[2] << "'";
        continue;
      }
      sub += " " + use.words[2];
      first_option = 3;
    }
    for (size_t i = first_option; i < use.words.size(); ++i) {
      std::string name = option_name(use.words[i]);
      if (name.size() < 2 || name[0] != '-') continue;
      EXPECT_TRUE(lists(help(program, sub), name))
          << use.where << ": '" << program << " " << sub << "' has no option " << name << " (see "
          << program << " " << sub << " --help)";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20u) << "the README's commands were not found";
}

}  // namespace
}  // namespace ef::test::readme
