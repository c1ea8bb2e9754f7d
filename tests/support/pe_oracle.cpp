#include "tests/support/pe_oracle.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/command.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {

std::string shell_quote(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

std::vector<ObjdumpSection> objdump_sections(const std::filesystem::path& file) {
  auto out = run_command("objdump -h " + shell_quote(file) + " 2>/dev/null");
  EXPECT_EQ(out.status, 0) << "objdump -h " << file;
  std::vector<ObjdumpSection> sections;
  std::istringstream lines(out.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    int index;
    ObjdumpSection s;
    std::string size, vma, lma, off;
    if (!(in >> index >> s.name >> size >> vma >> lma >> off)) continue;
    s.size = std::stoull(size, nullptr, 16);
    s.vma = std::stoull(vma, nullptr, 16);
    s.file_offset = std::stoull(off, nullptr, 16);
    sections.push_back(s);
  }
  return sections;
}

std::string objcopy_section(const std::filesystem::path& file, const std::string& name,
                            const std::filesystem::path& work_dir) {
  std::filesystem::path out = work_dir / ("section" + name);
  auto r = run_command("objcopy -O binary --only-section=" + name + " " + shell_quote(file) + " " +
                       shell_quote(out) + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  auto bytes = read_file(out);
  return bytes ? *bytes : "";
}

}  // namespace ef::test
