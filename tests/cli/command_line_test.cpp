// The command line as a user meets it: one error line and exit status 2 for
// every usage error, one option vocabulary across commands, help pages of
// their own, -v beside the progress line, and run-vm's console.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixture.hpp"

namespace ef::test {
namespace {

class CommandLineTest : public CliTest {
 protected:
  static size_t lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }
};

const char* const kCommands[] = {"build",  "validate",         "inspect",     "keygen", "bundle",
                                 "verify", "provision-script", "render-site", "run-vm"};

TEST_F(CommandLineTest, UsageErrorsAreOneLineWithStatusTwo) {
  struct Case {
    std::string args, says;
  };
  for (const Case& c :
       {Case{"validate",
             "validate: --profile is required; see 'edgeforge "
             "validate --help'"},
        Case{"frobnicate", "frobnicate"}, Case{"", "a command is required: build, validate"},
        Case{"build -p profile.yaml --format zip", "--format"},
        Case{"keygen -o k --algorithm dsa", "--algorithm"},
        Case{"inspect", "inspect: image is required"}}) {
    write_basic_profile();
    auto r = edgeforge(c.args);
    std::string err = last_stderr();
    EXPECT_EQ(r.status, 2) << c.args << "\n" << err;
    EXPECT_EQ(lines(err), 1u) << c.args << "\n" << err;
    EXPECT_EQ(err.rfind("edgeforge: error: ", 0), 0u) << c.args << "\n" << err;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.args << "\n" << err;
  }
}

TEST_F(CommandLineTest, UsageErrorsAreJsonWithJson) {
  auto r = edgeforge("validate --json");
  EXPECT_EQ(r.status, 2);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["error"]["code"], "invalid_argument");
}

TEST_F(CommandLineTest, FailuresAreStatusOneAndHelpIsStatusZero) {
  EXPECT_EQ(edgeforge("inspect missing.squashfs").status, 2);  // checked by the parser
  tmp.write("not-an-image", "hello");
  EXPECT_EQ(edgeforge("inspect not-an-image").status, 1);
  EXPECT_EQ(lines(last_stderr()), 1u) << last_stderr();
  EXPECT_EQ(edgeforge("inspect not-an-image -q").status, 1);
  write_basic_profile();
  ASSERT_EQ(edgeforge("build -p profile.yaml -q").status, 0) << last_stderr();
  auto quiet = edgeforge("inspect out/edge-1.2.3.squashfs --cat /etc/motd -q");
  EXPECT_EQ(quiet.status, 0) << last_stderr();
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(edgeforge("--version").status, 0);
  for (const char* cmd : kCommands) EXPECT_EQ(edgeforge(std::string(cmd) + " --help").status, 0);
}

// One vocabulary: the same option spelled the same way on every command, and
// the old spellings still accepted.
TEST_F(CommandLineTest, EveryCommandTakesQuietAndJsonAndHasItsOwnHelp) {
  for (const char* cmd : kCommands) {
    auto help = edgeforge(std::string(cmd) + " --help").out;
    if (std::string(cmd) != "run-vm") {  // interactive: nothing to print as JSON
      EXPECT_NE(help.find("-q,--quiet"), std::string::npos) << cmd << "\n" << help;
      EXPECT_NE(help.find("--json"), std::string::npos) << cmd << "\n" << help;
    }
    EXPECT_EQ(help.find("Run 'edgeforge COMMAND --help'"), std::string::npos) << cmd;
  }
  for (const char* cmd : {"build", "validate", "provision-script"})
    EXPECT_NE(edgeforge(std::string(cmd) + " --help").out.find("-p,--profile"), std::string::npos);
  for (const char* cmd : {"build", "provision-script", "keygen", "bundle"})
    EXPECT_NE(edgeforge(std::string(cmd) + " --help").out.find("-o,--output"), std::string::npos);
  for (const char* cmd : {"build", "bundle"})
    EXPECT_NE(edgeforge(std::string(cmd) + " --help").out.find("-k,--sign-key"), std::string::npos);
  auto top = edgeforge("--help").out;
  EXPECT_NE(top.find("Run 'edgeforge COMMAND --help'"), std::string::npos);
  EXPECT_NE(top.find("Exit status: 0"), std::string::npos);
}

TEST_F(CommandLineTest, OldAndNewSpellingsOfKeysAndOutputs) {
  auto id = edgeforge("keygen -o keys");
  ASSERT_EQ(id.status, 0) << last_stderr();
  ASSERT_EQ(edgeforge("keygen --out old-keys -q").status, 0) << last_stderr();
  EXPECT_TRUE(std::filesystem::exists(tmp / "old-keys/signing.pub"));
  auto j = edgeforge("keygen --output json-keys --json");
  ASSERT_EQ(j.status, 0) << last_stderr();
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["keyId"].get<std::string>().size(), 64u);
  EXPECT_EQ(doc["publicKey"], "json-keys/signing.pub");

  write_basic_profile();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q -k keys/signing.key").status, 0)
      << last_stderr();
  EXPECT_TRUE(std::filesystem::exists(tmp / "out/edge-1.2.3.efb"));
  for (const char* key : {"--key", "--sign-key", "-k"}) {
    auto r = edgeforge(std::string("bundle --image out/edge-1.2.3.squashfs -q -o b.efb ") + key +
                       " old-keys/signing.key");
    EXPECT_EQ(r.status, 0) << key << ": " << last_stderr();
    EXPECT_EQ(r.out, "") << key;  // -q
    EXPECT_EQ(edgeforge("verify b.efb -q --keyring old-keys").status, 0) << last_stderr();
  }
}

TEST_F(CommandLineTest, RenderSiteTakesJsonAndQuiet) {
  tmp.write("site.yaml", "hostname: edge-7\n");
  auto r = edgeforge("render-site --site site.yaml --root root --json");
  ASSERT_EQ(r.status, 0) << last_stderr();
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_NE(doc["files"].dump().find("/etc/hostname"), std::string::npos) << r.out;
  EXPECT_EQ(edgeforge("render-site --site site.yaml --root root2 -q").out, "");
}

// -v on a terminal: every log line starts on a line of its own, never
// inside the progress line ("loading profileedgeforge: debug: ...").
TEST_F(CommandLineTest, VerboseLinesDoNotLandInTheProgressLine) {
  if (!have_tool("script")) GTEST_SKIP() << "script(1) is not installed";
  write_basic_profile();
  auto r = run_command("cd " + tmp.path().string() + " && script -qec '" + EF_EDGEFORGE_BIN +
                       " build -v -p profile.yaml -o out' /dev/null");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_NE(r.out.find("edgeforge: debug: "), std::string::npos) << r.out;
  size_t pos = 0;
  while ((pos = r.out.find("edgeforge: debug: ", pos)) != std::string::npos) {
    ASSERT_GT(pos, 0u);
    char before = r.out[pos - 1];
    // A fresh line, or the progress line erased first (ESC [ K).
    EXPECT_TRUE(before == '\n' || before == 'K') << r.out.substr(pos > 40 ? pos - 40 : 0, 80);
    ++pos;
  }
}

// run-vm hands QEMU this terminal's stdin (the serial console). The QEMU here
// is a stand-in first on PATH that echoes what it reads and its arguments.
TEST_F(CommandLineTest, RunVmGivesQemuTheConsole) {
  tmp.write("bin/qemu-system-x86_64",
            "#!/bin/sh\nread -r line\necho \"console got: $line\"\necho \"args: $*\"\n");
  ASSERT_EQ(run_command("chmod +x " + (tmp / "bin/qemu-system-x86_64").string()).status, 0);
  tmp.write("disk.raw", std::string(1 << 20, '\0'));
  tmp.write("console.txt", "hello from the keyboard\n");
  auto r = edgeforge("run-vm disk.raw --snapshot --bios < console.txt",
                     "PATH=" + (tmp / "bin").string() + ":$PATH");
  EXPECT_EQ(r.status, 0) << last_stderr();
  EXPECT_NE(r.out.find("console got: hello from the keyboard"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-snapshot"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ef::test
