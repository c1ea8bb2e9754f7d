// The ELF reader against readelf (binutils) as the oracle, on real files:
// the agent this project builds and the host's libstdc++.
#include "builder/agent_layer/elf_info.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "tests/support/command.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent_layer {
namespace {

ElfInfo read(const std::string& path) {
  auto bytes = read_file(path);
  EXPECT_TRUE(bytes) << path;
  auto info = read_elf_info(bytes ? *bytes : "", path);
  EXPECT_TRUE(info) << info.error().message();
  return info ? *info : ElfInfo{};
}

// Every GLIBC_x.y readelf lists under .gnu.version_r (needed versions only).
std::optional<GlibcVersion> readelf_max_glibc(const std::string& path) {
  auto out = test::run_command("readelf -V --wide " + path + " | sed -n '/.gnu.version_r/,$p'");
  std::optional<GlibcVersion> best;
  std::regex re("Name: (GLIBC_[0-9.]+)");
  for (std::sregex_iterator it(out.out.begin(), out.out.end(), re), end; it != end; ++it) {
    auto v = parse_glibc_version((*it)[1].str());
    if (v && (!best || *best < *v)) best = v;
  }
  return best;
}

TEST(ElfInfo, GlibcVersionsParseAndOrder) {
  EXPECT_EQ(parse_glibc_version("GLIBC_2.34")->parts, (std::vector<int>{2, 34}));
  EXPECT_EQ(parse_glibc_version("GLIBC_2.2.5")->str(), "2.2.5");
  EXPECT_FALSE(parse_glibc_version("GLIBC_PRIVATE"));
  EXPECT_FALSE(parse_glibc_version("GLIBC_2."));
  EXPECT_FALSE(parse_glibc_version("GLIBC_2"));
  EXPECT_LT(*parse_glibc_version("GLIBC_2.9"), *parse_glibc_version("GLIBC_2.10"));
  EXPECT_LT(*parse_glibc_version("GLIBC_2.2.5"), *parse_glibc_version("GLIBC_2.3"));
}

TEST(ElfInfo, AgentMatchesReadelf) {
  if (!test::have_tool("readelf")) GTEST_SKIP() << "readelf (binutils) not installed";
  ElfInfo info = read(EF_AGENT_BIN);
  auto dyn = test::run_command(std::string("readelf -d --wide ") + EF_AGENT_BIN);
  std::vector<std::string> needed;
  std::regex re("\\(NEEDED\\)\\s+Shared library: \\[([^\\]]+)\\]");
  for (std::sregex_iterator it(dyn.out.begin(), dyn.out.end(), re), end; it != end; ++it)
    needed.push_back((*it)[1].str());
  EXPECT_FALSE(needed.empty());
  EXPECT_EQ(info.needed, needed);
  // agent/CMakeLists.txt: DT_RPATH (covers the libraries' own dependencies), no RUNPATH.
  EXPECT_NE(dyn.out.find("(RPATH)              Library rpath: [/usr/lib/edgeforge/lib]"),
            std::string::npos)
      << dyn.out;
  EXPECT_EQ(dyn.out.find("(RUNPATH)"), std::string::npos);
  EXPECT_EQ(info.rpath, std::vector<std::string>{"/usr/lib/edgeforge/lib"});
  EXPECT_TRUE(info.runpath.empty());
  EXPECT_EQ(info.max_glibc(), readelf_max_glibc(EF_AGENT_BIN));
  // libstdc++ is linked statically (the host's needs a newer glibc).
  EXPECT_EQ(std::count(needed.begin(), needed.end(), "libstdc++.so.6"), 0);
}

TEST(ElfInfo, HostLibrariesMatchReadelf) {
  if (!test::have_tool("readelf")) GTEST_SKIP() << "readelf (binutils) not installed";
  auto libs =
      test::run_command("ldd " + std::string(EF_AGENT_BIN) +
                        " | awk '/=> \\//{print $3}'; ls /lib/x86_64-linux-gnu/libstdc++.so.6 "
                        "/lib/x86_64-linux-gnu/libc.so.6 2>/dev/null");
  std::istringstream in(libs.out);
  int checked = 0;
  for (std::string path; std::getline(in, path);) {
    if (path.empty()) continue;
    ElfInfo info = read(path);
    EXPECT_EQ(info.max_glibc(), readelf_max_glibc(path)) << path;
    ++checked;
  }
  EXPECT_GT(checked, 3);
}

TEST(ElfInfo, RejectsWhatIsNotElf64) {
  auto r = read_elf_info("#!/bin/sh\n", "script");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "script: not an ELF file");
  std::string elf32 =
      "\x7f"
      "ELF\x01\x01\x01";
  elf32.resize(64, '\0');
  r = read_elf_info(elf32, "x86");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "x86: only 64-bit little-endian ELF files are supported");
  // A real header whose section table points past the end.
  auto bytes = read_file(EF_AGENT_BIN);
  ASSERT_TRUE(bytes);
  r = read_elf_info(bytes->substr(0, 4096), "cut");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cut: malformed ELF file: truncated"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace ef::agent_layer
