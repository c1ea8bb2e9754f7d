// README.md as the README tests see it: its fenced shell blocks with the
// `<!-- readme-test: ... -->` markers in front of them, the logical commands
// in each block, and the reference table's rows.
//
// Markers (HTML comments on the lines right before a fence):
//   <!-- readme-test: skip: REASON -->                 the block is not run
//   <!-- readme-test: skip-command COMMAND: REASON --> lines that start with
//                                                     COMMAND are not run
// Every ```sh block is run unless marked; a shell block in another spelling
// (```bash, ```shell, ```console, or no language) is an error, so no command
// block goes unnoticed.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ef::test::readme {

/// One command as a user pastes it: continuation lines joined.
struct Command {
  int line = 0;             // README line where it starts (1-based)
  std::string text;         // without the trailing comment-only lines; may end in `# comment`
  std::string skip_reason;  // non-empty: a skip-command marker names it
};

struct Block {
  int fence_line = 0;  // README line of the opening fence
  std::string language;
  std::vector<std::string> body;                     // the lines between the fences
  std::string skip_reason;                           // non-empty: the whole block is not run
  std::map<std::string, std::string> skip_commands;  // command prefix -> reason

  bool is_shell() const { return language == "sh"; }
  /// The block's commands: blank and comment-only lines dropped, lines
  /// ending in `\` joined with the next.
  std::vector<Command> commands() const;
};

/// A row of a markdown table whose first cell is a code span naming a
/// command (`edgeforge build`): the code spans of the other cells.
struct TableRow {
  int line = 0;
  std::string command;
  std::vector<std::string> spans;
};

struct Readme {
  std::vector<Block> blocks;        // every fenced block, in order
  std::vector<TableRow> rows;       // reference table rows
  std::vector<std::string> errors;  // "README.md:LINE: what is wrong"
};

/// Parses `text` (the contents of README.md).
Readme parse_readme(std::string_view text);

/// The words of `command` as the shell would split a simple command, up to
/// the first `|`, `&&`, `||`, `;` or `#` word (no quoting beyond '...' and "...").
std::vector<std::string> words(std::string_view command);

}  // namespace ef::test::readme
