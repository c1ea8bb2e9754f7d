// edgeforge-fleet's configuration file: operators with tokens and password
// hashes, the dashboard's session settings, and each mistake as one line
// naming FILE:LINE.
#include "fleet/config.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::fleet {
namespace {

const std::string kDigest(64, 'a');

TEST(ConfigTest, OperatorsMayHaveATokenAPasswordOrBoth) {
  test::TempDir tmp;
  auto hash = test::run_command("openssl passwd -6 -salt 0123456789abcdef 'pw'");
  ASSERT_EQ(hash.status, 0);
  hash.out.pop_back();
  auto path = tmp.write("fleet.yaml",
                        "operators:\n"
                        "  - {name: ops, tokenSha256: " +
                            kDigest +
                            "}\n"
                            "  - name: alice\n"
                            "    passwordHash: " +
                            hash.out +
                            "\n"
                            "  - {name: bob, tokenSha256: " +
                            std::string(64, 'b') + ", passwordHash: '" + hash.out +
                            "'}\n"
                            "sessionSecret: " +
                            std::string(40, 'x') +
                            "\n"
                            "sessionHours: 8\n");
  auto c = load_config(path);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->operators.size(), 3u);
  EXPECT_EQ(c->operators[0].token_sha256, kDigest);
  EXPECT_EQ(c->operators[0].password_hash, "");
  EXPECT_EQ(c->operators[1].token_sha256, "");
  EXPECT_EQ(c->operators[1].password_hash, hash.out);
  EXPECT_EQ(c->operators[2].password_hash, hash.out);
  EXPECT_EQ(c->session_secret, std::string(40, 'x'));
  EXPECT_EQ(c->session_seconds, 8u * 3600);

  path = tmp.write("minimal.yaml", "operators:\n  - {name: ops, tokenSha256: " + kDigest + "}\n");
  c = load_config(path);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->session_secret, "");
  EXPECT_EQ(c->session_seconds, 12u * 3600);
}

TEST(ConfigTest, MistakesAreOneLineWithTheirPlace) {
  test::TempDir tmp;
  const std::string op = "operators:\n  - {name: ops, tokenSha256: " + kDigest + "}\n";
  struct Case {
    std::string yaml, says;
  };
  const Case cases[] = {
      {"operators:\n  - {name: ops}\n",
       "fleet.yaml:2:5: operators[0]: expected {name, "
       "tokenSha256} or {name, passwordHash}"},
      {"operators:\n  - {name: ops, passwordHash: '{plain}secret'}\n",
       "fleet.yaml:2:31: operators[0].passwordHash: not a crypt(3) hash"},
      {"operators:\n  - {name: ops, passwordHash: '$1$abc$def'}\n",
       "operators[0].passwordHash: a legacy crypt method"},
      {"operators:\n  - {name: ops, passwordHash: '$6$salt$'}\n", "without the hash itself"},
      {op + "  - {name: ops, tokenSha256: " + std::string(64, 'c') + "}\n",
       "fleet.yaml:3:12: operators[1].name: \"ops\" is named twice"},
      {op + "sessionSecret: short\n", "fleet.yaml:3:16: sessionSecret: at least 32 characters"},
      {op + "sessionHours: 0\n", "sessionHours: from 1 to 168"},
      {op + "sessionHours: 200\n", "sessionHours: from 1 to 168"},
      {op + "sessionHours: soon\n", "sessionHours: a whole number of hours"},
      {op + "session: x\n", "unknown key \"session\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto r = load_config(tmp.write("fleet.yaml", c.yaml));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace ef::fleet
