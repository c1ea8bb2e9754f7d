// The signing commands as a user runs them: keygen, build --sign-key,
// bundle, verify, inspect BUNDLE, with their exit statuses and one-line
// errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_fixture.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

class BundleCommandsTest : public CliTest {
 protected:
  void SetUp() override {
    write_basic_profile("  bundle: {compatible: edge-nuc, minVersion: 1.2.0}\n");
    ASSERT_EQ(edgeforge("keygen --out keys").status, 0) << last_stderr();
    key_id_ = edgeforge("keygen --out keys2 --algorithm ecdsa-p256").out.substr(0, 64);
    ASSERT_EQ(key_id_.size(), 64u) << last_stderr();
    std::filesystem::create_directories(tmp / "ring");
    std::filesystem::copy_file(tmp / "keys2" / "signing.pub", tmp / "ring" / "release.pub");
  }
  std::string key_id_;  // of keys2, the one the keyring trusts
};

TEST_F(BundleCommandsTest, KeygenWritesAPrivateKeyOnlyTheOwnerReads) {
  struct stat st {};
  ASSERT_EQ(::stat((tmp / "keys" / "signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(edgeforge("keygen --out keys").status, 0);
  EXPECT_NE(last_stderr().find("refusing to overwrite"), std::string::npos);
  EXPECT_EQ(edgeforge("keygen --out k3 --algorithm dsa").status, 2);
  EXPECT_NE(last_stderr().find("--algorithm: dsa not in {ed25519,ecdsa-p256"), std::string::npos)
      << last_stderr();
}

TEST_F(BundleCommandsTest, BuildSignsAndVerifyAcceptsWithTheProfilesPolicy) {
  auto b = edgeforge(
      "build -p profile.yaml -o out -q --sign-key keys/signing.key "
      "--sign-key keys2/signing.key");
  ASSERT_EQ(b.status, 0) << last_stderr();
  ASSERT_TRUE(std::filesystem::exists(tmp / "out" / "edge-1.2.3.efb"));
  auto v = edgeforge(
      "verify out/edge-1.2.3.efb --keyring ring --compatible edge-nuc "
      "--min-version 1.2.0 --installed-version 1.0.0 --json");
  ASSERT_EQ(v.status, 0) << last_stderr();
  auto j = nlohmann::json::parse(v.out);
  EXPECT_EQ(j["keyId"], key_id_);
  EXPECT_EQ(j["manifest"]["compatible"], "edge-nuc");
  EXPECT_EQ(j["manifest"]["minVersion"], "1.2.0");
  EXPECT_EQ(j["manifest"]["version"], "1.2.3");

  auto refused = [&](const std::string& args, const std::string& text) {
    auto r = edgeforge("verify out/edge-1.2.3.efb --keyring ring " + args);
    EXPECT_EQ(r.status, 1) << args;
    std::string err = last_stderr();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find("edgeforge: error: out/edge-1.2.3.efb: " + text), std::string::npos) << err;
  };
  refused("--compatible other", "bundle is for \"edge-nuc\"");
  refused("--min-version 1.3.0", "version 1.2.3 is below the anti-rollback floor 1.3.0");
  refused("--installed-version 2.0.0", "version 1.2.3 is older than the installed 2.0.0");
  EXPECT_EQ(edgeforge("verify out/edge-1.2.3.efb --keyring ring --installed-version 2.0.0 "
                      "--allow-downgrade")
                .status,
            0);

  ASSERT_TRUE(write_file_atomic(tmp / "ring" / "revoked", key_id_ + "\n"));
  refused("", "no valid signature by a trusted key");
}

TEST_F(BundleCommandsTest, BundleCommandUsesTheBuildManifestAndInspectShowsSignatures) {
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q").status, 0) << last_stderr();
  auto b = edgeforge(
      "bundle --image out/edge-1.2.3.squashfs -k keys2/signing.key -o rel.efb "
      "--compatible lab --json");
  ASSERT_EQ(b.status, 0) << last_stderr();
  auto j = nlohmann::json::parse(b.out);
  EXPECT_EQ(j["manifest"]["product"], "edge");
  EXPECT_EQ(j["manifest"]["compatible"], "lab");
  EXPECT_EQ(j["manifest"]["minVersion"], "1.2.0");
  EXPECT_EQ(j["manifest"]["boot"].size(), 0u);  // the fixture has no kernel

  auto i = edgeforge("inspect rel.efb --keyring ring");
  ASSERT_EQ(i.status, 0) << last_stderr();
  EXPECT_NE(i.out.find("compatible  lab"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("signature 1 ecdsa-p256-sha256 key " + key_id_ +
                       "  keyring ring/release.pub valid"),
            std::string::npos)
      << i.out;

  // Without a build manifest the version must be given.
  std::filesystem::copy_file(tmp / "out" / "edge-1.2.3.squashfs", tmp / "bare.squashfs");
  EXPECT_EQ(edgeforge("bundle --image bare.squashfs -k keys/signing.key").status, 1);
  EXPECT_NE(last_stderr().find("give --product and --version"), std::string::npos);
  EXPECT_EQ(edgeforge("bundle --image bare.squashfs -k keys/signing.key --product x --version 1.0")
                .status,
            1);
  EXPECT_NE(last_stderr().find("--version: '1.0' is not a semantic version"), std::string::npos);
  EXPECT_EQ(
      edgeforge("bundle --image bare.squashfs -k keys/signing.key --product x --version 2.0.0")
          .status,
      0)
      << last_stderr();
  EXPECT_TRUE(std::filesystem::exists(tmp / "bare.efb"));
}

TEST_F(BundleCommandsTest, PassphraseProtectedKeysComeFromFileOrEnvironment) {
  tmp.write("pass.txt", "correct horse\n");
  ASSERT_EQ(edgeforge("keygen --out locked --passphrase-file pass.txt").status, 0) << last_stderr();
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q").status, 0) << last_stderr();
  EXPECT_EQ(edgeforge("bundle --image out/edge-1.2.3.squashfs -k locked/signing.key").status, 1);
  EXPECT_NE(last_stderr().find("signing key locked/signing.key"), std::string::npos);
  EXPECT_EQ(edgeforge("bundle --image out/edge-1.2.3.squashfs -k locked/signing.key "
                      "--passphrase-env EF_PASS",
                      "EF_PASS='correct horse'")
                .status,
            0)
      << last_stderr();
}

TEST_F(BundleCommandsTest, ABrokenBundleIsOneLineAndNoCrash) {
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q --sign-key keys2/signing.key").status, 0);
  auto bytes = read_file(tmp / "out" / "edge-1.2.3.efb");
  ASSERT_TRUE(bytes);
  ASSERT_TRUE(write_file_atomic(tmp / "cut.efb", bytes->substr(0, 5000)));
  auto r = edgeforge("verify cut.efb --keyring ring");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(last_stderr().find("edgeforge: error: cut.efb: truncated: the file is 5000 bytes"),
            std::string::npos)
      << last_stderr();
  EXPECT_EQ(edgeforge("inspect cut.efb").status, 1);
  EXPECT_NE(last_stderr().find("truncated"), std::string::npos);
}

}  // namespace
}  // namespace ef::test
