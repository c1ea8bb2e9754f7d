// Tests for signing keys. The stock openssl CLI is the oracle: key IDs,
// signatures and key files must agree with it in both directions.
//
// How to check edgeforge signatures with the openssl CLI (for
// docs/bundle-format.md); MSG is the signed message, SIG the raw signature:
// clang-format off
//
//   key ID:             openssl pkey -pubin -in signing.pub -outform DER | sha256sum
//   ed25519:            openssl pkeyutl -verify -pubin -inkey signing.pub -rawin -in MSG -sigfile SIG
//   ecdsa-p256-sha256:  openssl dgst -sha256 -verify signing.pub -signature SIG MSG
//   rsa3072-pss-sha256: openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 -verify signing.pub -signature SIG MSG
//
// clang-format on
#include "signing/keys.hpp"

#include "signing/bundle.hpp"
#include "tests/signing/bundle_fixture.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::signing {
namespace {

namespace fs = std::filesystem;
using test::run_command;
using test::TempDirTest;

constexpr Algorithm kAll[] = {Algorithm::ed25519, Algorithm::ecdsa_p256_sha256,
                              Algorithm::rsa3072_pss_sha256};

std::string q(const fs::path& p) {
  return "'" + p.string() + "'";
}

// Runs `command` with stderr discarded; fails the test when it exits non-zero.
std::string oracle(const std::string& command) {
  auto result = run_command(command + " 2>/dev/null");
  EXPECT_EQ(result.status, 0) << command;
  return result.out;
}

// The openssl CLI command that verifies `sig` over `msg` for `algorithm`.
std::string openssl_verify_command(Algorithm algorithm, const fs::path& pub, const fs::path& msg,
                                   const fs::path& sig) {
  switch (algorithm) {
    case Algorithm::ed25519:
      return "openssl pkeyutl -verify -pubin -inkey " + q(pub) + " -rawin -in " + q(msg) +
             " -sigfile " + q(sig);
    case Algorithm::ecdsa_p256_sha256:
      return "openssl dgst -sha256 -verify " + q(pub) + " -signature " + q(sig) + " " + q(msg);
    case Algorithm::rsa3072_pss_sha256:
      return "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 "
             "-sigopt rsa_mgf1_md:sha256 -verify " +
             q(pub) + " -signature " + q(sig) + " " + q(msg);
  }
  return "false";
}

std::string openssl_key_id(const fs::path& pub) {
  return oracle("openssl pkey -pubin -in " + q(pub) + " -outform DER | sha256sum").substr(0, 64);
}

mode_t file_mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// --- every algorithm -----------------------------------------------------------

class SigningKeyAlgorithmTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  test::TempDir tmp;
};

INSTANTIATE_TEST_SUITE_P(All, SigningKeyAlgorithmTest, ::testing::ValuesIn(kAll),
                         [](const auto& param_info) {
                           std::string name = algorithm_name(param_info.param);
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST_P(SigningKeyAlgorithmTest, GeneratesSignsAndVerifies) {
  auto key = SigningKey::generate(GetParam());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->algorithm(), GetParam());
  EXPECT_EQ(key->key_id().size(), 64u);
  auto sig = key->sign("the message");
  ASSERT_TRUE(sig) << sig.error().message();
  PublicKey pub = key->public_key();
  EXPECT_EQ(pub.algorithm(), GetParam());
  EXPECT_EQ(pub.key_id(), key->key_id());
  EXPECT_TRUE(pub.verify("the message", *sig));
}

TEST_P(SigningKeyAlgorithmTest, TamperedMessageOrSignatureDoesNotVerify) {
  auto key = SigningKey::generate(GetParam());
  ASSERT_TRUE(key) << key.error().message();
  auto sig = key->sign("the message");
  ASSERT_TRUE(sig) << sig.error().message();
  PublicKey pub = key->public_key();
  EXPECT_FALSE(pub.verify("the messagE", *sig));
  EXPECT_FALSE(pub.verify("", *sig));
  std::string bad = *sig;
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x01);
  EXPECT_FALSE(pub.verify("the message", bad));
  EXPECT_FALSE(pub.verify("the message", sig->substr(0, sig->size() - 1)));
  EXPECT_FALSE(pub.verify("the message", ""));
  EXPECT_FALSE(pub.verify("the message", std::string(600, 'x')));
  // Another key of the same kind does not verify it either.
  auto other = SigningKey::generate(GetParam());
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->public_key().verify("the message", *sig));
}

TEST_P(SigningKeyAlgorithmTest, KeyIdAndSignatureAgreeWithOpensslCli) {
  auto id = generate_key_files(tmp.path(), GetParam());
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, openssl_key_id(tmp / "signing.pub"));

  auto key = SigningKey::load((tmp / "signing.key").string());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->key_id(), *id);
  EXPECT_EQ(key->algorithm(), GetParam());
  auto pub = PublicKey::load(tmp / "signing.pub");
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_EQ(pub->key_id(), *id);
  EXPECT_EQ(pub->algorithm(), GetParam());

  std::string message = "edgeforge bundle manifest\n";
  auto sig = key->sign(message);
  ASSERT_TRUE(sig) << sig.error().message();
  auto msg_path = tmp.write("msg", message);
  auto sig_path = tmp.write("sig", *sig);
  oracle(openssl_verify_command(GetParam(), tmp / "signing.pub", msg_path, sig_path));
  // The CLI rejects a signature over another message.
  auto other = tmp.write("other", "edgeforge bundle manifest?\n");
  EXPECT_NE(run_command(openssl_verify_command(GetParam(), tmp / "signing.pub", other, sig_path) +
                        " >/dev/null 2>&1")
                .status,
            0);
}

TEST_P(SigningKeyAlgorithmTest, PemRoundTrips) {
  auto key = SigningKey::generate(GetParam());
  ASSERT_TRUE(key);
  auto pem = key->private_pem();
  ASSERT_TRUE(pem) << pem.error().message();
  EXPECT_NE(pem->find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto loaded = SigningKey::load(tmp.write("k.pem", *pem).string());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->key_id(), key->key_id());
  auto pub = PublicKey::from_pem(key->public_key().pem());
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_EQ(pub->key_id(), key->key_id());
  auto sig = loaded->sign("x");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(pub->verify("x", *sig));
}

// --- keys made by the openssl CLI ------------------------------------------------

class SigningKeyOpensslTest : public TempDirTest {
 protected:
  // Generates tmp/NAME.key with `openssl genpkey ARGS` and tmp/NAME.pub.
  fs::path genpkey(const std::string& name, const std::string& args) {
    auto key = tmp / (name + ".key");
    oracle("openssl genpkey " + args + " -out " + q(key));
    oracle("openssl pkey -in " + q(key) + " -pubout -out " + q(tmp / (name + ".pub")));
    return key;
  }
};

TEST_F(SigningKeyOpensslTest, OpensslEd25519KeyLoadsAndSigns) {
  auto path = genpkey("ed", "-algorithm ed25519");
  auto key = SigningKey::load(path.string());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->algorithm(), Algorithm::ed25519);
  EXPECT_EQ(key->key_id(), openssl_key_id(tmp / "ed.pub"));
  auto sig = key->sign("hello");
  ASSERT_TRUE(sig);
  oracle(openssl_verify_command(Algorithm::ed25519, tmp / "ed.pub", tmp.write("msg", "hello"),
                                tmp.write("sig", *sig)));
  auto pub = PublicKey::load(tmp / "ed.pub");
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_TRUE(pub->verify("hello", *sig));
}

TEST_F(SigningKeyOpensslTest, OpensslEcKeyLoadsAndSigns) {
  auto path = genpkey("ec", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
  auto key = SigningKey::load(path.string());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->algorithm(), Algorithm::ecdsa_p256_sha256);
  auto sig = key->sign("hello");
  ASSERT_TRUE(sig);
  oracle(openssl_verify_command(Algorithm::ecdsa_p256_sha256, tmp / "ec.pub",
                                tmp.write("msg", "hello"), tmp.write("sig", *sig)));
}

TEST_F(SigningKeyOpensslTest, OpensslPssSignatureVerifies) {
  // The reverse direction for RSA-PSS: the CLI signs, PublicKey verifies.
  auto path = genpkey("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:3072");
  auto msg = tmp.write("msg", "hello");
  oracle(
      "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 "
      "-sigopt rsa_mgf1_md:sha256 -sign " +
      q(path) + " -out " + q(tmp / "sig") + " " + q(msg));
  auto pub = PublicKey::load(tmp / "rsa.pub");
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_EQ(pub->algorithm(), Algorithm::rsa3072_pss_sha256);
  auto sig = read_file(tmp / "sig");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(pub->verify("hello", *sig));
}

TEST_F(SigningKeyOpensslTest, UnsupportedKeysAreClearErrors) {
  struct Case {
    std::string name, args, expected;
  } cases[] = {
      {"rsa2048", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", "is an RSA-2048 key"},
      {"p384", "-algorithm EC -pkeyopt ec_paramgen_curve:secp384r1",
       "is an EC key on curve secp384r1"},
      {"ed448", "-algorithm ed448", "is a ED448 key"},
  };
  for (const auto& c : cases) {
    auto path = genpkey(c.name, c.args);
    auto key = SigningKey::load(path.string());
    ASSERT_FALSE(key) << c.name;
    EXPECT_EQ(key.error().code(), Errc::invalid_argument);
    EXPECT_EQ(key.error().message(), "signing key " + path.string() + " " + c.expected +
                                         ": supported keys are ed25519, EC P-256 and RSA-3072");
    auto pub = PublicKey::load(tmp / (c.name + ".pub"));
    ASSERT_FALSE(pub) << c.name;
    EXPECT_NE(pub.error().message().find(c.expected), std::string::npos) << pub.error().message();
  }
}

TEST_F(SigningKeyOpensslTest, NotAKeyIsAnError) {
  auto key = SigningKey::load(tmp.write("junk.pem", "hello\n").string());
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message().find("is not a PEM private key"), std::string::npos)
      << key.error().message();
  auto missing = SigningKey::load((tmp / "missing.key").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_FALSE(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
}

// --- encrypted keys --------------------------------------------------------------

class SigningKeyPassphraseTest : public TempDirTest {
 protected:
  void SetUp() override {
    pass_file = tmp.write("pass", "correct horse\nsecond line is ignored\n");
    auto id = generate_key_files(tmp / "keys", Algorithm::ecdsa_p256_sha256, {pass_file, ""});
    ASSERT_TRUE(id) << id.error().message();
    key_id = *id;
    key_path = (tmp / "keys/signing.key").string();
  }
  fs::path pass_file;
  std::string key_id;
  std::string key_path;
};

TEST_F(SigningKeyPassphraseTest, KeyFileIsEncryptedPkcs8WithAes256Cbc) {
  auto text = read_file(key_path);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos);
  std::string asn1 = oracle("openssl asn1parse -in " + q(key_path));
  EXPECT_NE(asn1.find("aes-256-cbc"), std::string::npos) << asn1;
  oracle("openssl pkey -in " + q(key_path) + " -passin 'pass:correct horse' -noout");
}

TEST_F(SigningKeyPassphraseTest, PassphraseFromFileOrEnvLoadsTheKey) {
  auto from_file = SigningKey::load(key_path, {pass_file, ""});
  ASSERT_TRUE(from_file) << from_file.error().message();
  EXPECT_EQ(from_file->key_id(), key_id);

  ScopedEnv env("EF_TEST_KEY_PASSPHRASE", "correct horse");
  auto from_env = SigningKey::load(key_path, {"", "EF_TEST_KEY_PASSPHRASE"});
  ASSERT_TRUE(from_env) << from_env.error().message();
  EXPECT_EQ(from_env->key_id(), key_id);
  auto sig = from_env->sign("m");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(from_file->public_key().verify("m", *sig));
}

TEST_F(SigningKeyPassphraseTest, MissingPassphraseIsOneClearError) {
  auto key = SigningKey::load(key_path);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().message(),
            "signing key " + key_path +
                " is encrypted: give its passphrase with --passphrase-file or --passphrase-env");
}

TEST_F(SigningKeyPassphraseTest, WrongPassphraseIsOneClearError) {
  auto key = SigningKey::load(key_path, {tmp.write("wrong", "battery staple\n"), ""});
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().message(), "wrong passphrase for " + key_path);
  ScopedEnv env("EF_TEST_KEY_PASSPHRASE", "nope");
  auto from_env = SigningKey::load(key_path, {"", "EF_TEST_KEY_PASSPHRASE"});
  ASSERT_FALSE(from_env);
  EXPECT_EQ(from_env.error().message(), "wrong passphrase for " + key_path);
}

TEST_F(SigningKeyPassphraseTest, UnsetPassphraseSourcesAreErrors) {
  ::unsetenv("EF_TEST_KEY_UNSET");
  auto env = read_passphrase({"", "EF_TEST_KEY_UNSET"});
  ASSERT_FALSE(env);
  EXPECT_NE(env.error().message().find("EF_TEST_KEY_UNSET"), std::string::npos);
  EXPECT_FALSE(read_passphrase({tmp / "no-such-file", ""}));
  EXPECT_FALSE(read_passphrase({tmp.write("empty", "\nsecret\n"), ""}));
  auto crlf = read_passphrase({tmp.write("crlf", "secret\r\n"), ""});
  ASSERT_TRUE(crlf);
  EXPECT_EQ(*crlf, "secret");
}

TEST_F(SigningKeyPassphraseTest, EncryptedPrivatePemRoundTrips) {
  auto key = SigningKey::generate(Algorithm::ed25519);
  ASSERT_TRUE(key);
  auto pem = key->private_pem("s3cret");
  ASSERT_TRUE(pem);
  auto path = tmp.write("ed.key", *pem).string();
  ScopedEnv env("EF_TEST_KEY_PASSPHRASE", "s3cret");
  auto loaded = SigningKey::load(path, {"", "EF_TEST_KEY_PASSPHRASE"});
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->key_id(), key->key_id());
}

// --- key files -------------------------------------------------------------------

using KeyFilesTest = TempDirTest;

TEST_F(KeyFilesTest, WritesPrivateKey0600AndPublicKey) {
  auto id = generate_key_files(tmp / "new/dir", Algorithm::ed25519);
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(file_mode(tmp / "new/dir/signing.key"), 0600u);
  EXPECT_EQ(file_mode(tmp / "new/dir/signing.pub"), 0644u);
  auto pub = read_file(tmp / "new/dir/signing.pub");
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  // Nothing but the two files is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "new/dir"), fs::directory_iterator()), 2);
}

TEST_F(KeyFilesTest, RefusesToOverwrite) {
  ASSERT_TRUE(generate_key_files(tmp.path(), Algorithm::ed25519));
  auto before = read_file(tmp / "signing.key");
  auto again = generate_key_files(tmp.path(), Algorithm::ed25519);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(),
            (tmp / "signing.key").string() + " already exists: refusing to overwrite it");
  EXPECT_EQ(*read_file(tmp / "signing.key"), *before);

  // A lone signing.pub also stops it, and no signing.key appears.
  auto other = tmp / "other";
  tmp.write("other/signing.pub", "keep me\n");
  auto lone = generate_key_files(other, Algorithm::ed25519);
  ASSERT_FALSE(lone);
  EXPECT_FALSE(fs::exists(other / "signing.key"));
  EXPECT_EQ(*read_file(other / "signing.pub"), "keep me\n");
}

// --- URIs (OSSL_STORE) ---------------------------------------------------------

using SigningKeyUriTest = TempDirTest;

TEST_F(SigningKeyUriTest, FileUriLoadsThroughOsslStore) {
  auto id = generate_key_files(tmp.path(), Algorithm::ecdsa_p256_sha256);
  ASSERT_TRUE(id);
  auto key = SigningKey::load("file:" + (tmp / "signing.key").string());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->key_id(), *id);
  auto sig = key->sign("via store");
  ASSERT_TRUE(sig);
  oracle(openssl_verify_command(Algorithm::ecdsa_p256_sha256, tmp / "signing.pub",
                                tmp.write("msg", "via store"), tmp.write("sig", *sig)));
}

TEST_F(SigningKeyUriTest, EncryptedFileUriNeedsItsPassphrase) {
  auto pass = tmp.write("pass", "pw\n");
  auto id = generate_key_files(tmp / "k", Algorithm::ed25519, {pass, ""});
  ASSERT_TRUE(id);
  std::string uri = "file:" + (tmp / "k/signing.key").string();
  auto missing = SigningKey::load(uri);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "signing key " + uri +
                " is encrypted: give its passphrase with --passphrase-file or --passphrase-env");
  auto wrong = SigningKey::load(uri, {tmp.write("wrong", "nope\n"), ""});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message(), "wrong passphrase for " + uri);
  auto key = SigningKey::load(uri, {pass, ""});
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->key_id(), *id);
}

TEST_F(SigningKeyUriTest, UnknownSchemeIsAnError) {
  auto key = SigningKey::load("nosuchscheme:whatever");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message().find("nosuchscheme:whatever"), std::string::npos)
      << key.error().message();
}

TEST(SigningKeyAlgorithmNameTest, NamesRoundTrip) {
  for (Algorithm a : kAll) {
    auto parsed = parse_algorithm(algorithm_name(a));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, a);
  }
  auto bad = parse_algorithm("rsa2048");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
}

// --- a real PKCS#11 token (SoftHSM2) --------------------------------------------

// Debian 12 has no pkcs11 provider; a pkcs11: URI then goes through the libp11
// engine (libengine-pkcs11-openssl, which reaches SoftHSM through p11-kit).
// One token for the whole suite: SoftHSM reads SOFTHSM2_CONF once per process.
class SigningKeyHsmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* m :
         {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
          "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"})
      if (fs::exists(m)) module = m;
    if (module.empty() || !test::have_tool("softhsm2-util") || !test::have_tool("pkcs11-tool") ||
        run_command("openssl engine pkcs11 >/dev/null 2>&1").status != 0) {
      skip_reason = "needs softhsm2, opensc and libengine-pkcs11-openssl";
      return;
    }
    dir = new test::TempDir;
    fs::create_directories(*dir / "tokens");
    auto conf =
        dir->write("softhsm2.conf", "directories.tokendir = " + (*dir / "tokens").string() +
                                        "\nobjectstore.backend = file\nlog.level = ERROR\n");
    ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
    std::string p11 = "pkcs11-tool --module " + q(module) + " --token-label edgeforge ";
    oracle("softhsm2-util --init-token --free --label edgeforge --so-pin 5678 --pin 1234");
    oracle(p11 +
           "--login --pin 1234 --keypairgen --key-type EC:prime256v1 --label release --id 01");
    oracle(p11 + "--read-object --type pubkey --label release -o " + q(*dir / "pub.der"));
    oracle("openssl pkey -pubin -inform DER -in " + q(*dir / "pub.der") + " -out " +
           q(*dir / "pub.pem"));
  }
  static void TearDownTestSuite() {
    delete dir;
    dir = nullptr;
  }
  void SetUp() override {
    if (!skip_reason.empty()) GTEST_SKIP() << skip_reason;
  }

  static inline std::string module;
  static inline std::string skip_reason;
  static inline test::TempDir* dir = nullptr;
  test::TempDir tmp;
};

// First in the suite: libp11 stays logged in to the token for the rest of the
// process, so later loads no longer ask for the PIN.
TEST_F(SigningKeyHsmTest, Pkcs11PinComesFromPassphrase) {
  const std::string uri = "pkcs11:token=edgeforge;object=release;type=private";
  auto wrong = SigningKey::load(uri, {tmp.write("wrong", "9999\n"), ""});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("PIN incorrect"), std::string::npos)
      << wrong.error().message();
  auto key = SigningKey::load(uri, {tmp.write("pin", "1234\n"), ""});
  ASSERT_TRUE(key) << key.error().message();
  auto sig = key->sign("m");
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_TRUE(key->public_key().verify("m", *sig));
}

TEST_F(SigningKeyHsmTest, Pkcs11UriSignsOnSoftHsmToken) {
  auto key = SigningKey::load("pkcs11:token=edgeforge;object=release;type=private;pin-value=1234");
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->algorithm(), Algorithm::ecdsa_p256_sha256);
  EXPECT_EQ(key->key_id(), openssl_key_id(*dir / "pub.pem"));
  EXPECT_FALSE(key->private_pem()) << "a token key is not exportable";

  auto sig = key->sign("signed on the token");
  ASSERT_TRUE(sig) << sig.error().message();
  auto pub = PublicKey::load(*dir / "pub.pem");
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_TRUE(pub->verify("signed on the token", *sig));
  oracle(openssl_verify_command(Algorithm::ecdsa_p256_sha256, *dir / "pub.pem",
                                tmp.write("msg", "signed on the token"), tmp.write("sig", *sig)));
}

TEST_F(SigningKeyHsmTest, Pkcs11KeyLoadsAgainAfterRelease) {
  for (int i = 0; i < 2; ++i) {
    auto key = SigningKey::load("pkcs11:token=edgeforge;object=release;pin-value=1234");
    ASSERT_TRUE(key) << key.error().message();
    auto sig = key->sign("again");
    ASSERT_TRUE(sig) << i << ": " << sig.error().message();
    EXPECT_TRUE(key->public_key().verify("again", *sig));
  }
}

TEST_F(SigningKeyHsmTest, MissingPkcs11ObjectIsAnError) {
  auto key = SigningKey::load("pkcs11:token=edgeforge;object=nosuchkey;pin-value=1234");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message().find("object=nosuchkey"), std::string::npos)
      << key.error().message();
}

// A release signed by a key that never leaves the token, as CI would do it.
TEST_F(SigningKeyHsmTest, BundleSignedOnTheTokenVerifies) {
  auto key = SigningKey::load("pkcs11:token=edgeforge;object=release;pin-value=1234");
  ASSERT_TRUE(key) << key.error().message();
  auto image = fixture::write_image(tmp / "image.squashfs", 40);
  auto made = create_bundle(fixture::inputs_for(image), {&*key}, tmp / "hsm.efb");
  ASSERT_TRUE(made) << made.error().message();
  fs::create_directories(tmp / "ring");
  fs::copy_file(*dir / "pub.pem", tmp / "ring" / "release.pub");
  auto ring = Keyring::load(tmp / "ring");
  ASSERT_TRUE(ring) << ring.error().message();
  auto v = verify_bundle(tmp / "hsm.efb", *ring, {});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->signature.key_id, openssl_key_id(*dir / "pub.pem"));
}

}  // namespace
}  // namespace ef::signing
