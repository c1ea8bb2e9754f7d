// Finding the agent binary, resolving its libraries with the host's loader
// and the glibc ceiling.
#include "builder/agent_layer/agent_files.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::agent_layer {
namespace {

using test::TempDirTest;
class AgentFiles : public TempDirTest {};

TEST_F(AgentFiles, FindsTheBinaryInDocumentedOrder) {
  auto opt = tmp.write("opt/edgeforge-agent", "a");
  auto env = tmp.write("env/edgeforge-agent", "b");
  auto beside = tmp.write("bin/edgeforge-agent", "c");
  auto tree = tmp.write("build/agent/edgeforge-agent", "d");
  tmp.write("build/cli/edgeforge", "e");
  EXPECT_EQ(*find_agent_binary(opt.string(), env.string(), tmp / "bin/edgeforge"), opt);
  EXPECT_EQ(*find_agent_binary("", env.string(), tmp / "bin/edgeforge"), env);
  EXPECT_EQ(*find_agent_binary("", "", tmp / "bin/edgeforge"), beside);
  EXPECT_EQ(*find_agent_binary("", "", tmp / "build/cli/edgeforge"), tree);

  auto missing = find_agent_binary("", "", tmp / "nowhere/edgeforge");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  const std::string& m = missing.error().message();
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_NE(m.find("--agent-binary"), std::string::npos) << m;
  EXPECT_NE(m.find("spec.agent.enabled: false"), std::string::npos) << m;
  // An explicit choice that does not exist is not silently replaced.
  auto bad = find_agent_binary((tmp / "typo").string(), env.string(), tmp / "bin/edgeforge");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--agent-binary " + (tmp / "typo").string()),
            std::string::npos);
  bad = find_agent_binary("", (tmp / "typo").string(), tmp / "bin/edgeforge");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("EDGEFORGE_AGENT " + (tmp / "typo").string()),
            std::string::npos);
}

TEST(AgentLdd, ParsesLoaderOutputAndSkipsGlibc) {
  auto libs = parse_ldd_output(
      "\tlinux-vdso.so.1 (0x00007ffc)\n"
      "\tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x00007f00)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f01)\n"
      "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f02)\n"
      "\tlibresolv.so.2 => /lib/x86_64-linux-gnu/libresolv.so.2 (0x00007f03)\n"
      "\tlibcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 (0x00007f04)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f05)\n");
  ASSERT_TRUE(libs);
  ASSERT_EQ(libs->size(), 2u);
  EXPECT_EQ((*libs)[0].first, "libcrypto.so.3");
  EXPECT_EQ((*libs)[1].first, "libcurl.so.4");
  EXPECT_EQ((*libs)[1].second, "/lib/x86_64-linux-gnu/libcurl.so.4");
  auto missing = parse_ldd_output("\tlibfoo.so.1 => not found\n");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("libfoo.so.1"), std::string::npos);
  for (const char* g : {"libc.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                        "ld-linux-x86-64.so.2", "linux-vdso.so.1", "libmvec.so.1"})
    EXPECT_TRUE(is_glibc_library(g)) << g;
  for (const char* n : {"libcurl.so.4", "libcrypto.so.3", "libcrypt.so.1", "libz.so.1"})
    EXPECT_FALSE(is_glibc_library(n)) << n;
}

TEST(AgentCollect, TheBuiltAgentFitsUbuntu2204) {
  auto files = collect_agent_files(EF_AGENT_BIN);
  ASSERT_TRUE(files) << files.error().message();
  EXPECT_EQ(files->binary.soname, "edgeforge-agent");
  // Oracle: the loader's own list, minus glibc.
  auto ldd = test::run_command(std::string("ldd ") + EF_AGENT_BIN +
                               " | awk '/=> \\//{print $1}' | grep -Ev "
                               "'^(libc|libm|libresolv|libpthread|libdl|librt)\\.so' | sort");
  std::string got;
  for (const auto& lib : files->libraries) got += lib.soname + "\n";
  EXPECT_EQ(got, ldd.out);
  EXPECT_FALSE(files->libraries.empty());
  for (const auto& lib : files->libraries) {
    EXPECT_FALSE(lib.bytes.empty()) << lib.soname;
    auto need = lib.elf.max_glibc();
    if (need) {
      EXPECT_LE(*need, kGlibcCeiling) << lib.soname;
    }
  }
}

TEST(AgentCollect, AGlibcAboveTheCeilingFailsTheBuild) {
  auto files = collect_agent_files(EF_AGENT_BIN, GlibcVersion{{2, 3}});
  ASSERT_FALSE(files);
  const std::string& m = files.error().message();
  EXPECT_NE(m.find("needs glibc 2."), std::string::npos) << m;
  EXPECT_NE(m.find("above 2.3 (Ubuntu 22.04"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST_F(AgentFiles, ABinaryWithoutThePrivateRpathIsRefused) {
  // /usr/bin/ldd's loader friend: any dynamically linked host program that
  // needs a non-glibc library and has no RPATH.
  auto which = test::run_command("command -v openssl");
  std::string prog = which.out.substr(0, which.out.find('\n'));
  if (prog.empty()) GTEST_SKIP() << "openssl not installed";
  auto r = collect_agent_files(prog);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("has no DT_RPATH /usr/lib/edgeforge/lib"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace ef::agent_layer
