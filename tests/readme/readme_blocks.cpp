#include "tests/readme/readme_blocks.hpp"

#include <optional>
#include <sstream>

namespace ef::test::readme {
namespace {

constexpr std::string_view kMarkerOpen = "<!-- readme-test:";
constexpr std::string_view kMarkerClose = "-->";

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in{std::string(text)};
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// "skip: reason" or "skip-command CMD: reason", applied to `block`.
std::optional<std::string> apply_marker(const std::string& marker, Block& block) {
  if (starts_with(marker, "skip:")) {
    block.skip_reason = trim(marker.substr(5));
    if (block.skip_reason.empty()) return "skip marker without a reason";
    return std::nullopt;
  }
  if (starts_with(marker, "skip-command ")) {
    std::string rest = marker.substr(13);
    size_t colon = rest.find(": ");
    if (colon == std::string::npos) return "skip-command marker: expected 'COMMAND: REASON'";
    std::string command = trim(rest.substr(0, colon)), reason = trim(rest.substr(colon + 2));
    if (command.empty() || reason.empty()) return "skip-command marker: expected 'COMMAND: REASON'";
    block.skip_commands[command] = reason;
    return std::nullopt;
  }
  return "unknown readme-test marker '" + marker + "' (expected 'skip: REASON' or " +
         "'skip-command COMMAND: REASON')";
}

// The code spans (`...`) of one table line, per cell.
std::vector<std::vector<std::string>> table_cells(const std::string& line) {
  std::vector<std::vector<std::string>> cells(1);
  bool in_code = false;
  std::string span;
  for (size_t i = 1; i < line.size(); ++i) {  // line[0] is the leading '|'
    char c = line[i];
    if (c == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      if (in_code) span += '|';
      ++i;
    } else if (c == '`') {
      if (in_code) cells.back().push_back(span);
      span.clear();
      in_code = !in_code;
    } else if (c == '|' && !in_code) {
      cells.emplace_back();
    } else if (in_code) {
      span += c;
    }
  }
  return cells;
}

}  // namespace

std::vector<Command> Block::commands() const {
  std::vector<Command> out;
  bool continued = false;
  for (size_t i = 0; i < body.size(); ++i) {
    std::string line = trim(body[i]);
    int readme_line = fence_line + 1 + static_cast<int>(i);
    if (!continued && (line.empty() || line[0] == '#')) continue;
    bool continues = !line.empty() && line.back() == '\\';
    if (continues) line.pop_back();
    if (continued) {
      out.back().text += " " + line;
    } else {
      out.push_back({readme_line, line, ""});
      for (const auto& [prefix, reason] : skip_commands)
        if (starts_with(line, prefix)) out.back().skip_reason = reason;
    }
    continued = continues;
  }
  for (auto& c : out) c.text = trim(c.text);
  return out;
}

Readme parse_readme(std::string_view text) {
  Readme readme;
  auto lines = split_lines(text);
  std::vector<std::pair<int, std::string>> pending;  // markers waiting for their fence
  auto error = [&](int line, const std::string& what) {
    readme.errors.push_back("README.md:" + std::to_string(line) + ": " + what);
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    int n = static_cast<int>(i) + 1;
    std::string line = trim(lines[i]);
    if (starts_with(line, kMarkerOpen)) {
      if (line.size() < kMarkerOpen.size() + kMarkerClose.size() ||
          line.substr(line.size() - kMarkerClose.size()) != kMarkerClose) {
        error(n, "readme-test marker must be one line ending in -->");
        continue;
      }
      pending.emplace_back(
          n, trim(line.substr(kMarkerOpen.size(),
                              line.size() - kMarkerOpen.size() - kMarkerClose.size())));
      continue;
    }
    if (starts_with(line, "```")) {
      Block block;
      block.fence_line = n;
      block.language = trim(line.substr(3));
      for (const auto& [marker_line, marker] : pending)
        if (auto bad = apply_marker(marker, block)) error(marker_line, *bad);
      pending.clear();
      for (++i; i < lines.size() && !starts_with(trim(lines[i]), "```"); ++i)
        block.body.push_back(lines[i]);
      if (i == lines.size()) error(n, "fence is never closed");
      if (block.language == "bash" || block.language == "shell" || block.language == "console" ||
          block.language.empty())
        error(n, "command block as ```" + block.language +
                     ": write ```sh so the README test runs it (or mark it skip: REASON)");
      for (const auto& [prefix, unused_reason] : block.skip_commands) {
        bool used = false;
        for (const auto& c : block.commands()) used = used || starts_with(c.text, prefix);
        if (!used) error(n, "skip-command '" + prefix + "' matches no command of the block");
      }
      readme.blocks.push_back(std::move(block));
      continue;
    }
    if (!pending.empty()) {
      error(pending.front().first, "readme-test marker not followed by a fenced block");
      pending.clear();
    }
    if (starts_with(line, "|")) {
      auto cells = table_cells(line);
      if (cells.size() >= 2 && cells[0].size() == 1 && starts_with(cells[0][0], "edgeforge")) {
        TableRow row{n, cells[0][0], {}};
        for (size_t c = 1; c < cells.size(); ++c)
          row.spans.insert(row.spans.end(), cells[c].begin(), cells[c].end());
        readme.rows.push_back(std::move(row));
      }
    }
  }
  if (!pending.empty()) error(pending.front().first, "readme-test marker at the end of the file");
  return readme;
}

std::vector<std::string> words(std::string_view command) {
  std::vector<std::string> out;
  std::string word;
  bool have = false;
  char quote = 0;
  for (char c : command) {
    if (quote) {
      if (c == quote)
        quote = 0;
      else
        word += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t') {
      if (have) out.push_back(word);
      word.clear();
      have = false;
    } else {
      word += c;
      have = true;
    }
  }
  if (have) out.push_back(word);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& w = out[i];
    if (w == "|" || w == "&&" || w == "||" || w == ";" || w[0] == '#') {
      out.resize(i);
      break;
    }
  }
  return out;
}

}  // namespace ef::test::readme
