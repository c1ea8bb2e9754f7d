#include "util/subprocess.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace ef {
namespace {

TEST(Subprocess, TrueAndFalse) {
  auto ok = run_process({"true"});
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_TRUE(ok->success());

  auto fail = run_process({"false"});
  ASSERT_TRUE(fail) << fail.error().message();
  EXPECT_FALSE(fail->success());
  EXPECT_EQ(fail->exit_code, 1);
}

TEST(Subprocess, ExitCodeAndStderrTail) {
  auto r = run_process({"sh", "-c", "echo x >&2; exit 3"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stderr_tail, "x\n");
  Error e = process_failure({"sh", "-c", "..."}, *r);
  EXPECT_EQ(e.code(), Errc::subprocess);
  EXPECT_NE(e.message().find("exited with status 3"), std::string::npos);
  EXPECT_NE(e.message().find("x"), std::string::npos);
}

TEST(Subprocess, StderrTailIsBounded) {
  ProcessOptions options;
  options.stderr_tail_bytes = 100;
  // 1000 numbered lines; only the end must survive.
  auto r = run_process({"sh", "-c",
                        "i=0; while [ $i -lt 1000 ]; do echo line$i >&2; "
                        "i=$((i+1)); done; exit 1"},
                       options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_LE(r->stderr_tail.size(), 104u);
  EXPECT_NE(r->stderr_tail.find("line999\n"), std::string::npos);
  EXPECT_EQ(r->stderr_tail.find("line0\n"), std::string::npos);
}

TEST(Subprocess, CapturesStdoutAndPassesEnvironment) {
  ProcessOptions options;
  options.capture_stdout = true;
  options.env = {{"EF_SUBPROCESS_TEST", "hello world"}, {"HOME", "/nonexistent-home"}};
  auto r = run_process({"sh", "-c",
                        "printf '%s|%s|%s' \"$EF_SUBPROCESS_TEST\" \"$HOME\" "
                        "\"${PATH:+has-path}\""},
                       options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->success());
  // Added, overridden, and inherited variables all arrive.
  EXPECT_EQ(r->stdout_data, "hello world|/nonexistent-home|has-path");
}

TEST(Subprocess, UnsetsVariables) {
  ::setenv("EF_SUBPROCESS_UNSET_ME", "1", 1);
  ProcessOptions options;
  options.capture_stdout = true;
  options.unset_env = {"EF_SUBPROCESS_UNSET_ME"};
  auto r = run_process({"sh", "-c", "printf '%s' \"${EF_SUBPROCESS_UNSET_ME-unset}\""}, options);
  ::unsetenv("EF_SUBPROCESS_UNSET_ME");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "unset");
}

TEST(Subprocess, WorkingDirectory) {
  test::TempDir tmp;
  ProcessOptions options;
  options.capture_stdout = true;
  options.cwd = tmp.path();
  auto r = run_process({"pwd", "-P"}, options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, std::filesystem::canonical(tmp.path()).string() + "\n");
}

TEST(Subprocess, StdinIsEmpty) {
  ProcessOptions options;
  options.capture_stdout = true;
  auto r = run_process({"cat"}, options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->success());
  EXPECT_EQ(r->stdout_data, "");
}

// The child can share our stdin (run-vm's console). glibc 2.36's posix_spawn
// closes fd 0 before an addopen onto it, so reopening "/dev/stdin" there
// failed as "cannot run <program>".
TEST(Subprocess, InheritsStdinWhenAsked) {
  test::TempDir tmp;
  tmp.write("in.txt", "typed at the console\n");
  int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  int in = ::open((tmp / "in.txt").c_str(), O_RDONLY);
  ASSERT_GE(in, 0);
  ASSERT_EQ(::dup2(in, STDIN_FILENO), STDIN_FILENO);
  ::close(in);
  ProcessOptions options;
  options.capture_stdout = true;
  options.inherit_stdin = true;
  auto r = run_process({"cat"}, options);
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "typed at the console\n");
}

TEST(Subprocess, StdinFileIsReadAndAMissingOneIsNamed) {
  test::TempDir tmp;
  tmp.write("script", "label: gpt\n");
  ProcessOptions options;
  options.capture_stdout = true;
  options.stdin_file = tmp / "script";
  auto r = run_process({"cat"}, options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "label: gpt\n");

  options.stdin_file = tmp / "missing";
  auto missing = run_process({"cat"}, options);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("missing"), std::string::npos);
  EXPECT_EQ(missing.error().message().find("cannot run"), std::string::npos)
      << missing.error().message();
}

TEST(Subprocess, AMissingWorkingDirectoryIsNamed) {
  ProcessOptions options;
  options.cwd = "/nonexistent-edgeforge-dir";
  auto r = run_process({"true"}, options);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent-edgeforge-dir"), std::string::npos)
      << r.error().message();
}

TEST(Subprocess, KilledBySignal) {
  auto r = run_process({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->success());
  EXPECT_EQ(r->signal, 9);
  EXPECT_NE(r->describe().find("signal 9"), std::string::npos);
}

TEST(Subprocess, MissingProgram) {
  ProcessOptions options;
  options.apt_package = "ef-missing-pkg";
  auto r = run_process({"edgeforge-no-such-program", "x"}, options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
  EXPECT_EQ(r.error().message(),
            "edgeforge-no-such-program not found on PATH; install it with apt-get install "
            "ef-missing-pkg");

  auto by_path = run_process({"/nonexistent/edgeforge-tool"});
  ASSERT_FALSE(by_path);
  EXPECT_EQ(by_path.error().code(), Errc::not_found);
}

TEST(Subprocess, PathOverrideSteersLookup) {
  test::TempDir tmp;
  auto tool = tmp.write("bin/ef-fake-tool", "#!/bin/sh\necho fake\n");
  std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
  ProcessOptions options;
  options.capture_stdout = true;
  options.env = {{"PATH", (tmp / "bin").string() + ":/usr/bin:/bin"}};
  auto r = run_process({"ef-fake-tool"}, options);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->stdout_data, "fake\n");
}

TEST(Subprocess, FormatCommand) {
  EXPECT_EQ(format_command({"mmdebstrap", "--include=a,b", "it's here", ""}),
            "mmdebstrap --include=a,b 'it'\\''s here' ''");
}

}  // namespace
}  // namespace ef
