#include "tests/support/date_oracle.hpp"

#include <sstream>

#include "tests/support/temp_dir.hpp"
#include "util/subprocess.hpp"

namespace ef::test {

std::vector<std::string> date_oracle(const std::string& tz, const std::vector<std::string>& inputs,
                                     const std::string& format) {
  TempDir dir;
  std::string text;
  for (const auto& in : inputs) text += in + "\n";
  auto file = dir.write("dates", text);
  ProcessOptions options;
  options.env = {{"TZ", tz}, {"LC_ALL", "C"}};
  options.capture_stdout = true;
  auto run = run_process({"date", "-f", file.string(), "+" + format}, options);
  if (!run || !run->success()) return {};
  std::vector<std::string> lines;
  std::istringstream out(run->stdout_data);
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  if (lines.size() != inputs.size()) return {};
  return lines;
}

}  // namespace ef::test
