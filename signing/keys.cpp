#include "signing/keys.hpp"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "signing/key_store.hpp"
#include "signing/openssl_util.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::signing {

namespace {

using ossl::PkeyPtr;

constexpr int kRsaBits = 3072;
constexpr int kPssSaltLength = 32;  // the SHA-256 digest length

// --- describing keys ---------------------------------------------------------

Result<std::string> spki_der(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) return Error(Errc::internal, "cannot encode public key: " + ossl::take_error());
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool is_p256(EVP_PKEY* pkey, std::string& curve) {
  char name[80] = {};
  size_t len = 0;
  if (!EVP_PKEY_get_group_name(pkey, name, sizeof name, &len)) {
    ERR_clear_error();
    curve = "unknown";
    return false;
  }
  curve = name;
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

std::string type_name(EVP_PKEY* pkey) {
  const char* name = EVP_PKEY_get0_type_name(pkey);
  return name ? name : "unknown";
}

Result<Algorithm> detect_algorithm(EVP_PKEY* pkey, const std::string& what) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return Algorithm::ed25519;
  const std::string supported = ": supported keys are ed25519, EC P-256 and RSA-3072";
  if (EVP_PKEY_is_a(pkey, "EC")) {
    std::string curve;
    if (is_p256(pkey, curve)) return Algorithm::ecdsa_p256_sha256;
    return Error(Errc::invalid_argument, what + " is an EC key on curve " + curve + supported);
  }
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits == kRsaBits) return Algorithm::rsa3072_pss_sha256;
    return Error(Errc::invalid_argument,
                 what + " is an RSA-" + std::to_string(bits) + " key" + supported);
  }
  return Error(Errc::invalid_argument, what + " is a " + type_name(pkey) + " key" + supported);
}

struct KeyInfo {
  Algorithm algorithm;
  std::string key_id;
};

Result<KeyInfo> describe(EVP_PKEY* pkey, const std::string& what) {
  EF_ASSIGN(Algorithm algorithm, detect_algorithm(pkey, what));
  EF_ASSIGN(std::string der, spki_der(pkey));
  return KeyInfo{algorithm, sha256_hex(der)};
}

// --- signing and verifying ---------------------------------------------------

// Ed25519 signs the message itself (no digest); the others hash with SHA-256.
const EVP_MD* digest_for(Algorithm algorithm) {
  return algorithm == Algorithm::ed25519 ? nullptr : EVP_sha256();
}

// RSA: PSS padding, MGF1 with SHA-256, 32-byte salt.
bool configure(EVP_PKEY_CTX* pctx, Algorithm algorithm) {
  if (algorithm != Algorithm::rsa3072_pss_sha256) return true;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kPssSaltLength) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
}

Result<std::string> sign_message(EVP_PKEY* pkey, Algorithm algorithm, std::string_view message) {
  return ossl::digest_sign(
      pkey, digest_for(algorithm), [&](EVP_PKEY_CTX* pctx) { return configure(pctx, algorithm); },
      message);
}

bool verify_message(EVP_PKEY* pkey, Algorithm algorithm, std::string_view message,
                    std::string_view signature) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx &&
            EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(algorithm), nullptr, pkey) == 1 &&
            configure(pctx, algorithm) &&
            EVP_DigestVerify(ctx.get(), ossl::bytes(signature), signature.size(),
                             ossl::bytes(message), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

// --- algorithms --------------------------------------------------------------

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::ed25519:
      return "ed25519";
    case Algorithm::ecdsa_p256_sha256:
      return "ecdsa-p256-sha256";
    case Algorithm::rsa3072_pss_sha256:
      return "rsa3072-pss-sha256";
  }
  return "unknown";
}

Result<Algorithm> parse_algorithm(std::string_view name) {
  for (Algorithm a :
       {Algorithm::ed25519, Algorithm::ecdsa_p256_sha256, Algorithm::rsa3072_pss_sha256})
    if (name == algorithm_name(a)) return a;
  return Error(Errc::invalid_argument,
               "unknown signature algorithm '" + std::string(name) +
                   "' (expected ed25519, ecdsa-p256-sha256 or rsa3072-pss-sha256)");
}

// --- PublicKey ---------------------------------------------------------------

struct PublicKey::Impl {
  PkeyPtr pkey;
  Algorithm algorithm;
  std::string key_id;
};

PublicKey::PublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

Result<PublicKey> PublicKey::load(const std::filesystem::path& pem) {
  EF_ASSIGN(std::string text, read_file(pem));
  auto key = from_pem(text);
  if (!key) return std::move(key).error().with_context(pem.string());
  return key;
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  auto bio = ossl::memory_bio(pem);
  ERR_clear_error();
  PkeyPtr pkey(PEM_read_bio_PUBKEY_ex(bio.get(), nullptr, nullptr, nullptr, nullptr, nullptr));
  if (!pkey)
    return Error(Errc::invalid_argument,
                 "not a PEM public key: " + ossl::take_error("no key found"));
  EF_ASSIGN(KeyInfo info, describe(pkey.get(), "the public key"));
  return PublicKey(std::make_unique<Impl>(Impl{std::move(pkey), info.algorithm, info.key_id}));
}

Algorithm PublicKey::algorithm() const {
  return impl_->algorithm;
}

const std::string& PublicKey::key_id() const {
  return impl_->key_id;
}

std::string PublicKey::pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  return ossl::bio_contents(bio.get());
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const {
  return verify_message(impl_->pkey.get(), impl_->algorithm, message, signature);
}

// --- SigningKey --------------------------------------------------------------

struct SigningKey::Impl {
  PkeyPtr pkey;
  Algorithm algorithm;
  std::string key_id;
  // Keys held by a token or provider are never written out: an engine, for
  // one, "exports" an EC key from a token with a private scalar of zero.
  bool exportable;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::generate(Algorithm algorithm) {
  ERR_clear_error();
  PkeyPtr pkey;
  switch (algorithm) {
    case Algorithm::ed25519:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
    case Algorithm::ecdsa_p256_sha256:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case Algorithm::rsa3072_pss_sha256:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kRsaBits)));
      break;
  }
  if (!pkey)
    return Error(Errc::internal, std::string("cannot generate an ") + algorithm_name(algorithm) +
                                     " key: " + ossl::take_error());
  EF_ASSIGN(KeyInfo info, describe(pkey.get(), "the generated key"));
  return SigningKey(
      std::make_unique<Impl>(Impl{std::move(pkey), info.algorithm, info.key_id, true}));
}

Result<SigningKey> SigningKey::load(const std::string& ref, const Passphrase& passphrase) {
  EF_ASSIGN(key_store::LoadedKey loaded, key_store::load_private_key(ref, passphrase));
  PkeyPtr pkey = std::move(loaded.pkey);
  EF_ASSIGN(KeyInfo info, describe(pkey.get(), "signing key " + ref));
  bool exportable = loaded.exportable;
  return SigningKey(
      std::make_unique<Impl>(Impl{std::move(pkey), info.algorithm, info.key_id, exportable}));
}

Algorithm SigningKey::algorithm() const {
  return impl_->algorithm;
}

const std::string& SigningKey::key_id() const {
  return impl_->key_id;
}

PublicKey SigningKey::public_key() const {
  // A public-only copy through the DER encoding, so verifying never needs the
  // provider (or token) that holds the private key.
  auto der = spki_der(impl_->pkey.get());
  const unsigned char* p = der ? ossl::bytes(*der) : nullptr;
  PkeyPtr pub(der ? d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())) : nullptr);
  ERR_clear_error();
  return PublicKey(std::make_unique<PublicKey::Impl>(
      PublicKey::Impl{std::move(pub), impl_->algorithm, impl_->key_id}));
}

Result<std::string> SigningKey::sign(std::string_view message) const {
  return sign_message(impl_->pkey.get(), impl_->algorithm, message);
}

Result<std::string> SigningKey::private_pem(const std::string& passphrase) const {
  if (!impl_->exportable)
    return Error(Errc::invalid_argument,
                 "the private key is held by a token or OpenSSL provider and cannot be exported");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = passphrase.empty() ? nullptr : EVP_aes_256_cbc();
  std::string pass = passphrase;  // OpenSSL wants a mutable buffer
  ERR_clear_error();
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->pkey.get(), cipher,
                                            pass.empty() ? nullptr : pass.data(),
                                            static_cast<int>(pass.size()), nullptr, nullptr) != 1)
    return Error(Errc::invalid_argument,
                 "cannot export the private key: " + ossl::take_error("not exportable"));
  return ossl::bio_contents(bio.get());
}

// --- passphrases and key files -----------------------------------------------

Result<std::string> read_passphrase(const Passphrase& passphrase) {
  if (!passphrase.file.empty()) {
    EF_ASSIGN(std::string text, read_file(passphrase.file));
    std::string line = text.substr(0, text.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty())
      return Error(Errc::invalid_argument,
                   "passphrase file " + passphrase.file.string() + " has an empty first line");
    return line;
  }
  if (!passphrase.env.empty()) {
    const char* value = std::getenv(passphrase.env.c_str());
    if (!value || !*value)
      return Error(Errc::invalid_argument,
                   "passphrase environment variable " + passphrase.env + " is not set or empty");
    return std::string(value);
  }
  return Error(Errc::invalid_argument, "no passphrase source given");
}

Result<std::string> generate_key_files(const std::filesystem::path& dir, Algorithm algorithm,
                                       const Passphrase& passphrase) {
  const auto key_path = dir / "signing.key";
  const auto pub_path = dir / "signing.pub";
  EF_TRY(key_store::refuse_existing(key_path));
  EF_TRY(key_store::refuse_existing(pub_path));
  std::string pass;
  if (!passphrase.empty()) {
    EF_ASSIGN(pass, read_passphrase(passphrase));
  }
  EF_ASSIGN(SigningKey key, SigningKey::generate(algorithm));
  EF_ASSIGN(std::string private_pem, key.private_pem(pass));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  EF_TRY(key_store::write_new_file(key_path, private_pem, 0600));
  auto written = key_store::write_new_file(pub_path, key.public_key().pem(), 0644);
  if (!written) {
    ::unlink(key_path.c_str());  // no private key without its public half
    return std::move(written).error();
  }
  return key.key_id();
}

}  // namespace ef::signing
