// Tests for Secure Boot signing. Tools nobody here wrote are the oracles:
// sbverify and osslsigncode check our signatures and compute the
// Authenticode digest on their own, sbsign signs the same images, openssl
// and efitools' cert-to-efi-sig-list read and make the key files.
#include "signing/authenticode.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <regex>
#include <string>

#include "tests/support/command.hpp"
#include "tests/support/pe_oracle.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/pe_file.hpp"

namespace ef::signing {
namespace {

namespace fs = std::filesystem;
using test::run_command;

using test::kSystemdStub;

std::string q(const fs::path& p) {
  return test::shell_quote(p);
}

// Runs `command`, stderr into stdout; fails the test when it exits non-zero.
std::string oracle(const std::string& command) {
  auto result = run_command(command + " 2>&1");
  EXPECT_EQ(result.status, 0) << command << "\n" << result.out;
  return result.out;
}

bool sbverify(const fs::path& cert, const fs::path& image) {
  return run_command("sbverify --cert " + q(cert) + " " + q(image) + " >/dev/null 2>&1").status ==
         0;
}

// osslsigncode's view of a signed image: the digest the signature holds and
// the one it computes from the image, lower-case hex.
struct OsslsigncodeDigests {
  std::string current;
  std::string calculated;
};

OsslsigncodeDigests osslsigncode_digests(const fs::path& cert, const fs::path& image) {
  std::string out = oracle("osslsigncode verify -in " + q(image) + " -CAfile " + q(cert));
  auto find = [&](const char* label) {
    std::smatch m;
    std::regex re(std::string(label) + R"(\s*:\s*([0-9A-F]{64}))");
    if (!std::regex_search(out, m, re)) return std::string();
    std::string hex = m[1];
    for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return hex;
  };
  return {find("Current message digest"), find("Calculated message digest")};
}

// The image digest a signature holds, as openssl reads the PKCS#7 that
// sbattach detaches: the first 32-byte OCTET STRING is the DigestInfo of the
// SpcIndirectDataContent (the signed attributes' messageDigest comes later).
// (osslsigncode 2.5, Debian 12's, rejects sbsign's signatures outright.)
std::string signature_digest(const fs::path& image) {
  fs::path der = image.string() + ".p7";
  oracle("sbattach --detach " + q(der) + " " + q(image));
  std::string out = oracle("openssl asn1parse -inform DER -in " + q(der));
  std::smatch m;
  std::regex re(R"(l= *32 prim: OCTET STRING *\[HEX DUMP\]:([0-9A-F]{64}))");
  if (!std::regex_search(out, m, re)) return std::string();
  std::string hex = m[1];
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

mode_t file_mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class AuthenticodeTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    if (!fs::exists(kSystemdStub))
      GTEST_SKIP() << kSystemdStub << " missing (install systemd-boot-efi)";
    for (const char* tool : {"openssl", "sbverify", "sbsign", "osslsigncode"})
      if (!test::have_tool(tool)) GTEST_SKIP() << tool << " missing";
    make_rsa_key("db", 2048);
    key_ = tmp / "db.key";
    cert_ = tmp / "db.crt";

    // A small unified kernel image: the stub with a fake kernel and initrd.
    auto stub = read_file(kSystemdStub);
    ASSERT_TRUE(stub) << stub.error().message();
    std::mt19937_64 rng(7);
    std::string kernel(200000, '\0');
    for (char& c : kernel) c = static_cast<char>(rng());
    auto uki = pe::add_sections(*stub, {{".osrel", "ID=test\n"},
                                        {".cmdline", "console=ttyS0"},
                                        {".linux", kernel},
                                        {".initrd", std::string(3001, 'i')}});
    ASSERT_TRUE(uki) << uki.error().message();
    uki_ = std::move(*uki);
  }

  // NAME.key and NAME.crt (self-signed) in the temporary directory.
  void make_rsa_key(const std::string& name, int bits) {
    oracle("openssl req -x509 -newkey rsa:" + std::to_string(bits) + " -nodes -keyout " +
           q(tmp / (name + ".key")) + " -out " + q(tmp / (name + ".crt")) + " -subj /CN=" + name +
           " -days 30");
  }

  std::string sign(std::string_view image) {
    auto signer = PeSigner::load(key_.string(), cert_);
    EXPECT_TRUE(signer) << signer.error().message();
    if (!signer) return {};
    auto signed_image = signer->sign(image);
    EXPECT_TRUE(signed_image) << signed_image.error().message();
    return signed_image ? *signed_image : std::string();
  }

  fs::path key_, cert_;
  std::string uki_;
};

TEST_F(AuthenticodeTest, SbverifyAndOsslsigncodeAcceptOurSignature) {
  std::string signed_uki = sign(uki_);
  fs::path file = tmp.write("signed.efi", signed_uki);
  EXPECT_TRUE(sbverify(cert_, file));
  auto digests = osslsigncode_digests(cert_, file);
  EXPECT_EQ(digests.current, digests.calculated);

  // The digest the signature holds is our Authenticode hash of the image.
  auto layout = pe::parse(signed_uki);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(digests.current, pe::authenticode_sha256(signed_uki, *layout));
}

TEST_F(AuthenticodeTest, OurDigestIsTheOneSbsignSigns) {
  fs::path unsigned_file = tmp.write("uki.efi", uki_);
  fs::path sbsigned = tmp / "sbsigned.efi";
  oracle("sbsign --key " + q(key_) + " --cert " + q(cert_) + " --output " + q(sbsigned) + " " +
         q(unsigned_file));
  ASSERT_TRUE(sbverify(cert_, sbsigned));
  auto theirs = read_file(sbsigned);
  ASSERT_TRUE(theirs);
  auto their_layout = pe::parse(*theirs);
  ASSERT_TRUE(their_layout) << their_layout.error().message();
  const std::string their_digest = signature_digest(sbsigned);
  EXPECT_EQ(their_digest.size(), 64u);
  EXPECT_EQ(pe::authenticode_sha256(*theirs, *their_layout), their_digest);

  fs::path ours = tmp.write("ours.efi", sign(uki_));
  EXPECT_EQ(signature_digest(ours), their_digest);

  // Replacing sbsign's signature (which has a signing time) with ours gives
  // what signing the unsigned image gives.
  EXPECT_EQ(sign(*theirs), sign(uki_));
}

TEST_F(AuthenticodeTest, ChangedBytesBreakTheSignature) {
  std::string signed_uki = sign(uki_);
  auto layout = pe::parse(signed_uki);
  ASSERT_TRUE(layout);
  const pe::Section* linux_section = nullptr;
  for (const auto& s : layout->sections)
    if (s.name == ".linux") linux_section = &s;
  ASSERT_NE(linux_section, nullptr);

  std::string kernel_changed = signed_uki;
  kernel_changed[linux_section->raw_offset + 1000] ^= 0x01;
  EXPECT_FALSE(sbverify(cert_, tmp.write("kernel.efi", kernel_changed)));

  std::string header_changed = signed_uki;
  header_changed[layout->optional_header_offset + 4] ^= 0x01;  // SizeOfCode
  EXPECT_FALSE(sbverify(cert_, tmp.write("header.efi", header_changed)));

  // The untouched image still verifies, and only with its own certificate.
  EXPECT_TRUE(sbverify(cert_, tmp.write("good.efi", signed_uki)));
  make_rsa_key("other", 2048);
  EXPECT_FALSE(sbverify(tmp / "other.crt", tmp / "good.efi"));
}

TEST_F(AuthenticodeTest, SigningIsDeterministicAndReplacesTheSignature) {
  std::string first = sign(uki_);
  std::string second = sign(uki_);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first, second);
  // Signing a signed image replaces its signature: still one, the same.
  EXPECT_EQ(sign(first), first);
  auto layout = pe::parse(first);
  ASSERT_TRUE(layout);
  EXPECT_EQ(uint64_t{layout->certificate_table.address} + layout->certificate_table.size,
            first.size());
  EXPECT_EQ(layout->certificate_table.address % 8, 0u);
}

TEST_F(AuthenticodeTest, SignsTheStubAndSystemdBootToo) {
  for (const char* efi : {kSystemdStub, "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"}) {
    SCOPED_TRACE(efi);
    auto image = read_file(efi);
    if (!image) continue;
    fs::path file = tmp.write(fs::path(efi).filename().string() + ".signed", sign(*image));
    EXPECT_TRUE(sbverify(cert_, file));
  }
}

TEST_F(AuthenticodeTest, RefusesACertificateOfAnotherKey) {
  make_rsa_key("other", 2048);
  auto signer = PeSigner::load(key_.string(), tmp / "other.crt");
  ASSERT_FALSE(signer);
  EXPECT_NE(signer.error().message().find("is not for signing key"), std::string::npos)
      << signer.error().message();
}

TEST_F(AuthenticodeTest, RefusesKeysFirmwareDoesNotVerify) {
  oracle("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
         q(tmp / "ec.key") + " -out " + q(tmp / "ec.crt") + " -subj /CN=ec -days 30");
  auto ec = PeSigner::load((tmp / "ec.key").string(), tmp / "ec.crt");
  ASSERT_FALSE(ec);
  EXPECT_NE(ec.error().message().find("is an EC key: UEFI firmware verifies RSA keys of 2048 to "
                                      "4096 bits only"),
            std::string::npos)
      << ec.error().message();

  make_rsa_key("small", 1024);
  auto small = PeSigner::load((tmp / "small.key").string(), tmp / "small.crt");
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().message().find("RSA-1024"), std::string::npos) << small.error().message();
}

TEST_F(AuthenticodeTest, ReportsUnusableInputs) {
  auto missing = PeSigner::load((tmp / "nope.key").string(), cert_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("nope.key"), std::string::npos);

  auto not_a_cert = PeSigner::load(key_.string(), key_);
  ASSERT_FALSE(not_a_cert);
  EXPECT_NE(not_a_cert.error().message().find("is not a PEM X.509 certificate"), std::string::npos);

  auto signer = PeSigner::load(key_.string(), cert_);
  ASSERT_TRUE(signer) << signer.error().message();
  auto not_pe = signer->sign("hello, world");
  ASSERT_FALSE(not_pe);
  EXPECT_NE(not_pe.error().message().find("malformed PE image"), std::string::npos);
}

TEST_F(AuthenticodeTest, EncryptedKeysTakeAPassphrase) {
  oracle(
      "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:s3cret "
      "-out " +
      q(tmp / "enc.key"));
  oracle("openssl req -x509 -key " + q(tmp / "enc.key") + " -passin pass:s3cret -out " +
         q(tmp / "enc.crt") + " -subj /CN=enc -days 30");
  auto without = PeSigner::load((tmp / "enc.key").string(), tmp / "enc.crt");
  ASSERT_FALSE(without);
  EXPECT_NE(without.error().message().find("is encrypted"), std::string::npos)
      << without.error().message();

  fs::path pass = tmp.write("pass.txt", "s3cret\n");
  auto with = PeSigner::load((tmp / "enc.key").string(), tmp / "enc.crt", Passphrase{pass, ""});
  ASSERT_TRUE(with) << with.error().message();
  auto signed_uki = with->sign(uki_);
  ASSERT_TRUE(signed_uki) << signed_uki.error().message();
  EXPECT_TRUE(sbverify(tmp / "enc.crt", tmp.write("enc.efi", *signed_uki)));
}

// --- Secure Boot keys ----------------------------------------------------------

TEST_F(AuthenticodeTest, GeneratesKeysFirmwareAndToolsRead) {
  if (!test::have_tool("cert-to-efi-sig-list")) GTEST_SKIP() << "efitools missing";
  fs::path dir = tmp / "keys";
  auto made = generate_secure_boot_keys(dir, "Edge Fleet");
  ASSERT_TRUE(made) << made.error().message();

  auto guid = read_file(dir / "owner-guid.txt");
  ASSERT_TRUE(guid);
  EXPECT_TRUE(std::regex_match(
      *guid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n")))
      << *guid;
  const std::string owner = guid->substr(0, 36);

  for (const std::string name : {"PK", "KEK", "db"}) {
    SCOPED_TRACE(name);
    fs::path key = dir / (name + ".key"), crt = dir / (name + ".crt");
    fs::path cer = dir / (name + ".cer"), esl = dir / (name + ".esl");
    EXPECT_EQ(file_mode(key), 0600u);
    EXPECT_EQ(file_mode(crt), 0644u);
    EXPECT_NE(
        oracle("openssl x509 -in " + q(crt) + " -noout -subject").find("CN = Edge Fleet " + name),
        std::string::npos);
    std::string text = oracle("openssl x509 -in " + q(crt) + " -noout -text");
    EXPECT_NE(text.find("Version: 3"), std::string::npos);
    EXPECT_NE(text.find("rsaEncryption"), std::string::npos);
    EXPECT_NE(text.find("Public-Key: (2048 bit)"), std::string::npos);
    EXPECT_NE(text.find("CA:TRUE"), std::string::npos);
    // Valid for 20 years: still valid in 19 years and 11 months, not in 20 and a month.
    oracle("openssl x509 -in " + q(crt) + " -noout -checkend " + std::to_string(7275L * 86400));
    EXPECT_NE(run_command("openssl x509 -in " + q(crt) + " -noout -checkend " +
                          std::to_string(7336L * 86400) + " >/dev/null")
                  .status,
              0);
    oracle("openssl rsa -in " + q(key) + " -check -noout");
    // The .cer is the .crt in DER.
    oracle("openssl x509 -in " + q(crt) + " -outform DER -out " + q(tmp / (name + ".der")));
    EXPECT_EQ(read_file(cer).value(), read_file(tmp / (name + ".der")).value());
    oracle("openssl x509 -inform DER -in " + q(cer) + " -noout");
    // The .esl is what efitools makes of the certificate and the owner.
    fs::path reference = tmp / (name + ".reference.esl");
    oracle("cert-to-efi-sig-list -g " + owner + " " + q(crt) + " " + q(reference));
    EXPECT_EQ(read_file(esl).value(), read_file(reference).value());
  }

  // An image signed with the db key verifies against db.crt only.
  auto signer = PeSigner::load((dir / "db.key").string(), dir / "db.crt");
  ASSERT_TRUE(signer) << signer.error().message();
  auto signed_uki = signer->sign(uki_);
  ASSERT_TRUE(signed_uki) << signed_uki.error().message();
  fs::path file = tmp.write("db-signed.efi", *signed_uki);
  EXPECT_TRUE(sbverify(dir / "db.crt", file));
  EXPECT_FALSE(sbverify(dir / "PK.crt", file));
}

TEST_F(AuthenticodeTest, KeyGenerationRefusesToOverwrite) {
  fs::path dir = tmp / "keys";
  ASSERT_TRUE(generate_secure_boot_keys(dir, "First"));
  auto before = read_file(dir / "db.key");
  auto again = generate_secure_boot_keys(dir, "Second");
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("already exists: refusing to overwrite it"),
            std::string::npos)
      << again.error().message();
  EXPECT_EQ(read_file(dir / "db.key").value(), before.value());

  // One file in the way stops it before anything is written.
  fs::path other = tmp / "other";
  fs::create_directories(other);
  tmp.write("other/KEK.esl", "mine");
  ASSERT_FALSE(generate_secure_boot_keys(other, "Third"));
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(other)) ++files;
  EXPECT_EQ(files, 1u);
}

}  // namespace
}  // namespace ef::signing
