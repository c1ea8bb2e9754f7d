#include "signing/authenticode.hpp"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <initializer_list>
#include <optional>
#include <vector>

#include "signing/key_store.hpp"
#include "signing/openssl_util.hpp"
#include "util/atomic_file.hpp"
#include "util/pe_file.hpp"
#include "util/unique_fd.hpp"

namespace ef::signing {
namespace {

using ossl::PkeyPtr;
using X509Ptr = std::unique_ptr<X509, ossl::Deleter<X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, ossl::Deleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, ossl::Deleter<X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, ossl::Deleter<BN_free>>;

constexpr int kMinRsaBits = 2048;  // what UEFI firmware (EDK2) verifies
constexpr int kMaxRsaBits = 4096;
constexpr size_t kSha256Size = 32;

// --- DER ---------------------------------------------------------------------
// The Authenticode structures are small and fixed, so they are encoded by
// hand: OpenSSL's PKCS7 signing would add a signingTime attribute, which
// makes signatures differ from run to run.

constexpr uint8_t kInteger = 0x02;
constexpr uint8_t kBitString = 0x03;
constexpr uint8_t kOctetString = 0x04;
constexpr uint8_t kNull = 0x05;
constexpr uint8_t kObjectId = 0x06;
constexpr uint8_t kSequence = 0x30;
constexpr uint8_t kSet = 0x31;
constexpr uint8_t kContext0 = 0xa0;   // [0], constructed
constexpr uint8_t kContext2 = 0xa2;   // [2], constructed
constexpr uint8_t kImplicit0 = 0x80;  // [0] IMPLICIT, primitive

std::string der(uint8_t tag, std::string_view content) {
  std::string out(1, static_cast<char>(tag));
  size_t n = content.size();
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else {
    std::string length;
    for (; n != 0; n >>= 8) length.insert(length.begin(), static_cast<char>(n & 0xff));
    out += static_cast<char>(0x80 | length.size());
    out += length;
  }
  out += content;
  return out;
}

std::string oid(std::initializer_list<uint32_t> arcs) {
  std::vector<uint32_t> v(arcs);
  std::string content;
  auto put = [&](uint32_t x) {
    std::string base128(1, static_cast<char>(x & 0x7f));
    for (x >>= 7; x != 0; x >>= 7)
      base128.insert(base128.begin(), static_cast<char>(0x80 | (x & 0x7f)));
    content += base128;
  };
  put(v[0] * 40 + v[1]);  // the first two arcs share one number
  for (size_t i = 2; i < v.size(); ++i) put(v[i]);
  return der(kObjectId, content);
}

const std::string& sha256_oid() {
  static const std::string id = oid({2, 16, 840, 1, 101, 3, 4, 2, 1});
  return id;
}
const std::string& rsa_encryption_oid() {
  static const std::string id = oid({1, 2, 840, 113549, 1, 1, 1});
  return id;
}
const std::string& signed_data_oid() {
  static const std::string id = oid({1, 2, 840, 113549, 1, 7, 2});
  return id;
}
const std::string& content_type_oid() {
  static const std::string id = oid({1, 2, 840, 113549, 1, 9, 3});
  return id;
}
const std::string& message_digest_oid() {
  static const std::string id = oid({1, 2, 840, 113549, 1, 9, 4});
  return id;
}
// Microsoft's Authenticode object identifiers.
const std::string& spc_indirect_data_oid() {
  static const std::string id = oid({1, 3, 6, 1, 4, 1, 311, 2, 1, 4});
  return id;
}
const std::string& spc_pe_image_data_oid() {
  static const std::string id = oid({1, 3, 6, 1, 4, 1, 311, 2, 1, 15});
  return id;
}
const std::string& spc_statement_type_oid() {
  static const std::string id = oid({1, 3, 6, 1, 4, 1, 311, 2, 1, 11});
  return id;
}
const std::string& spc_individual_code_signing_oid() {
  static const std::string id = oid({1, 3, 6, 1, 4, 1, 311, 2, 1, 21});
  return id;
}

std::string algorithm_identifier(const std::string& algorithm) {
  return der(kSequence, algorithm + der(kNull, ""));
}

std::string small_integer(uint8_t v) {
  return der(kInteger, std::string(1, static_cast<char>(v)));
}

// SpcPeImageData { flags: empty BIT STRING, file: SpcLink.file =
// SpcString.unicode "<<<Obsolete>>>" }, what every signer writes.
std::string spc_pe_image_data() {
  std::string obsolete;
  for (char c : std::string_view("<<<Obsolete>>>")) obsolete += std::string{'\0', c};
  std::string file = der(kContext0, der(kContext2, der(kImplicit0, obsolete)));
  return der(kSequence, der(kBitString, std::string(1, '\0')) + file);
}

// The content octets of SpcIndirectDataContent (without its SEQUENCE
// header: they are what the messageDigest attribute covers).
std::string spc_indirect_data_content(std::string_view image_digest) {
  std::string data = der(kSequence, spc_pe_image_data_oid() + spc_pe_image_data());
  std::string digest_info =
      der(kSequence, algorithm_identifier(sha256_oid()) + der(kOctetString, image_digest));
  return data + digest_info;
}

std::string attribute(const std::string& type, const std::string& value) {
  return der(kSequence, type + der(kSet, value));
}

// The content octets of the authenticated attributes: a DER SET OF, so the
// encoded attributes are sorted.
std::string authenticated_attributes(std::string_view content_digest) {
  std::vector<std::string> attributes = {
      attribute(content_type_oid(), spc_indirect_data_oid()),
      attribute(spc_statement_type_oid(), der(kSequence, spc_individual_code_signing_oid())),
      attribute(message_digest_oid(), der(kOctetString, content_digest)),
  };
  std::sort(attributes.begin(), attributes.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  });
  std::string out;
  for (const std::string& a : attributes) out += a;
  return out;
}

// --- OpenSSL helpers ---------------------------------------------------------

template <typename T>
Result<std::string> to_der(int (*encode)(const T*, unsigned char**), const T* object,
                           const char* what) {
  unsigned char* out = nullptr;
  int len = encode(object, &out);
  if (len <= 0)
    return Error(Errc::internal, std::string("cannot encode ") + what + ": " + ossl::take_error());
  std::string der(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  return der;
}

Result<std::string> sha256(std::string_view data) {
  std::string digest(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()), &len,
                 EVP_sha256(), nullptr) != 1 ||
      len != kSha256Size)
    return Error(Errc::internal, "cannot hash: " + ossl::take_error());
  return digest;
}

std::string from_hex(std::string_view hex) {
  auto value = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10;
  };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(value(hex[i]) << 4 | value(hex[i + 1]));
  return out;
}

// RSA PKCS#1 v1.5 with SHA-256: the one signature scheme all firmware takes.
Result<std::string> rsa_sign(EVP_PKEY* key, std::string_view message) {
  return ossl::digest_sign(
      key, EVP_sha256(),
      [](EVP_PKEY_CTX* pctx) { return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0; },
      message);
}

// --- loading keys and certificates ---------------------------------------------

Result<void> check_firmware_key(EVP_PKEY* key, const std::string& ref) {
  if (!EVP_PKEY_is_a(key, "RSA")) {
    const char* type = EVP_PKEY_get0_type_name(key);
    return Error(Errc::invalid_argument,
                 "signing key " + ref + " is " + (type ? std::string("an ") + type : "a non-RSA") +
                     " key: UEFI firmware verifies RSA keys of 2048 to 4096 bits only");
  }
  int bits = EVP_PKEY_get_bits(key);
  if (bits < kMinRsaBits || bits > kMaxRsaBits)
    return Error(Errc::invalid_argument,
                 "signing key " + ref + " is an RSA-" + std::to_string(bits) +
                     " key: UEFI firmware verifies RSA keys of 2048 to 4096 bits only");
  return Ok{};
}

Result<X509Ptr> load_certificate(const std::filesystem::path& path) {
  EF_ASSIGN(std::string text, read_file(path));
  auto bio = ossl::memory_bio(text);
  ERR_clear_error();
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return Error(Errc::invalid_argument, path.string() + " is not a PEM X.509 certificate: " +
                                             ossl::take_error("no certificate found"));
  return cert;
}

// --- Secure Boot keys ----------------------------------------------------------

constexpr int kFirmwareKeyBits = 2048;           // what every firmware takes for PK, KEK and db
constexpr long kCertificateDays = 20 * 365 + 5;  // 20 years with their leap days

using Guid = std::array<uint8_t, 16>;  // in the order the text form is written

// EFI_CERT_X509_GUID, a5c059a1-94e4-4aa7-87b5-ab155c2bf072.
constexpr Guid kEfiCertX509 = {0xa5, 0xc0, 0x59, 0xa1, 0x94, 0xe4, 0x4a, 0xa7,
                               0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72};

Result<Guid> random_guid() {
  Guid g{};
  if (RAND_bytes(g.data(), static_cast<int>(g.size())) != 1)
    return Error(Errc::internal, "cannot make a random GUID: " + ossl::take_error());
  g[6] = static_cast<uint8_t>((g[6] & 0x0f) | 0x40);  // version 4 (random)
  g[8] = static_cast<uint8_t>((g[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return g;
}

std::string guid_text(const Guid& g) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < g.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[g[i] >> 4];
    out += kHex[g[i] & 0xf];
  }
  return out;
}

// EFI_GUID in memory: the first three fields little-endian.
std::string guid_bytes(const Guid& g) {
  std::string out(g.begin(), g.end());
  std::reverse(out.begin(), out.begin() + 4);
  std::reverse(out.begin() + 4, out.begin() + 6);
  std::reverse(out.begin() + 6, out.begin() + 8);
  return out;
}

std::string le32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// EFI_SIGNATURE_LIST of one EFI_CERT_X509 entry: the header (type, list
// size, header size 0, entry size), then the owner GUID and the DER
// certificate.
std::string signature_list(std::string_view cert_der, const Guid& owner) {
  const auto entry_size = static_cast<uint32_t>(16 + cert_der.size());
  std::string out = guid_bytes(kEfiCertX509);
  out += le32(16 + 4 + 4 + 4 + entry_size);
  out += le32(0);
  out += le32(entry_size);
  out += guid_bytes(owner);
  out += cert_der;
  return out;
}

Result<void> add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return Error(Errc::internal, std::string("cannot add the certificate extension ") +
                                     OBJ_nid2sn(nid) + ": " + ossl::take_error());
  return Ok{};
}

// A self-signed X.509 v3 CA certificate for `key`, as `openssl req -x509`
// makes them: random 127-bit serial, subject = issuer = CN `common_name`.
Result<X509Ptr> self_signed_certificate(EVP_PKEY* key, const std::string& common_name) {
  X509Ptr cert(X509_new());
  BignumPtr serial(BN_new());
  X509_NAME* name = cert ? X509_get_subject_name(cert.get()) : nullptr;
  ERR_clear_error();
  if (!cert || !serial || !name || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), kCertificateDays, 0, nullptr) ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, ossl::bytes(common_name),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key) != 1)
    return Error(Errc::internal,
                 "cannot make the certificate " + common_name + ": " + ossl::take_error());
  EF_TRY(add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  EF_TRY(add_extension(cert.get(), NID_subject_key_identifier, "hash"));
  EF_TRY(add_extension(cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0)
    return Error(Errc::internal,
                 "cannot sign the certificate " + common_name + ": " + ossl::take_error());
  return cert;
}

struct KeyFiles {
  std::string key_pem;
  std::string cert_pem;
  std::string cert_der;
};

Result<KeyFiles> make_key_files(const std::string& common_name) {
  ERR_clear_error();
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kFirmwareKeyBits)));
  if (!key) return Error(Errc::internal, "cannot generate an RSA key: " + ossl::take_error());
  EF_ASSIGN(X509Ptr cert, self_signed_certificate(key.get(), common_name));
  ossl::BioPtr key_bio(BIO_new(BIO_s_mem()));
  ossl::BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PKCS8PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                    nullptr) != 1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1)
    return Error(Errc::internal, "cannot encode " + common_name + ": " + ossl::take_error());
  EF_ASSIGN(std::string cert_der, to_der(i2d_X509, cert.get(), "the certificate"));
  return KeyFiles{ossl::bio_contents(key_bio.get()), ossl::bio_contents(cert_bio.get()),
                  std::move(cert_der)};
}

}  // namespace

// --- PeSigner ----------------------------------------------------------------

struct PeSigner::Impl {
  PkeyPtr key;
  std::string certificate;        // DER
  std::string issuer_and_serial;  // IssuerAndSerialNumber, DER
};

PeSigner::PeSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PeSigner::PeSigner(PeSigner&&) noexcept = default;
PeSigner& PeSigner::operator=(PeSigner&&) noexcept = default;
PeSigner::~PeSigner() = default;

Result<PeSigner> PeSigner::load(const std::string& key_ref,
                                const std::filesystem::path& certificate,
                                const Passphrase& passphrase) {
  EF_ASSIGN(key_store::LoadedKey loaded, key_store::load_private_key(key_ref, passphrase));
  PkeyPtr key = std::move(loaded.pkey);
  EF_TRY(check_firmware_key(key.get(), key_ref));
  EF_ASSIGN(X509Ptr cert, load_certificate(certificate));
  EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  if (!cert_key || EVP_PKEY_eq(cert_key, key.get()) != 1) {
    ERR_clear_error();
    return Error(Errc::invalid_argument, "certificate " + certificate.string() +
                                             " is not for signing key " + key_ref +
                                             ": its public key is another");
  }
  EF_ASSIGN(std::string cert_der, to_der(i2d_X509, cert.get(), "the certificate"));
  EF_ASSIGN(std::string issuer,
            to_der(i2d_X509_NAME, X509_get_issuer_name(cert.get()), "the certificate issuer"));
  EF_ASSIGN(std::string serial, to_der(i2d_ASN1_INTEGER, X509_get0_serialNumber(cert.get()),
                                       "the certificate serial number"));
  return PeSigner(std::make_unique<Impl>(
      Impl{std::move(key), std::move(cert_der), der(kSequence, issuer + serial)}));
}

Result<std::string> PeSigner::sign(std::string_view pe_image) const {
  EF_ASSIGN(std::string prepared, pe::prepare_for_signing(pe_image));
  EF_ASSIGN(pe::PeLayout layout, pe::parse(prepared));
  const std::string image_digest = from_hex(pe::authenticode_sha256(prepared, layout));

  const std::string content = spc_indirect_data_content(image_digest);
  EF_ASSIGN(std::string content_digest, sha256(content));
  const std::string attributes = authenticated_attributes(content_digest);
  // The signature covers the attributes encoded as a SET, not as the [0]
  // they are stored with.
  EF_ASSIGN(std::string signature, rsa_sign(impl_->key.get(), der(kSet, attributes)));

  const std::string signer_info =
      der(kSequence, small_integer(1) + impl_->issuer_and_serial +
                         algorithm_identifier(sha256_oid()) + der(kContext0, attributes) +
                         algorithm_identifier(rsa_encryption_oid()) + der(kOctetString, signature));
  const std::string content_info =
      der(kSequence, spc_indirect_data_oid() + der(kContext0, der(kSequence, content)));
  const std::string signed_data = der(
      kSequence, small_integer(1) + der(kSet, algorithm_identifier(sha256_oid())) + content_info +
                     der(kContext0, impl_->certificate) + der(kSet, signer_info));
  return pe::attach_signature(prepared,
                              der(kSequence, signed_data_oid() + der(kContext0, signed_data)));
}

// --- Secure Boot keys --------------------------------------------------------

Result<void> generate_secure_boot_keys(const std::filesystem::path& dir,
                                       const std::string& common_name_prefix) {
  static constexpr const char* kNames[] = {"PK", "KEK", "db"};
  static constexpr const char* kSuffixes[] = {".key", ".crt", ".cer", ".esl"};
  const auto guid_path = dir / "owner-guid.txt";
  std::vector<std::filesystem::path> targets = {guid_path};
  for (const char* name : kNames)
    for (const char* suffix : kSuffixes) targets.push_back(dir / (std::string(name) + suffix));
  for (const auto& path : targets) {
    std::error_code ec;
    if (std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found)
      return Error(Errc::invalid_argument,
                   path.string() + " already exists: refusing to overwrite it");
  }

  // Everything is made before the first file is written, and what was
  // written is removed again on failure: no half set of keys is left.
  EF_ASSIGN(Guid owner, random_guid());
  std::vector<std::pair<std::filesystem::path, std::string>> files;
  std::vector<mode_t> modes;
  for (const char* name : kNames) {
    EF_ASSIGN(KeyFiles made, make_key_files(common_name_prefix + " " + name));
    const std::string base = name;
    files.emplace_back(dir / (base + ".key"), std::move(made.key_pem));
    modes.push_back(0600);
    files.emplace_back(dir / (base + ".crt"), std::move(made.cert_pem));
    modes.push_back(0644);
    files.emplace_back(dir / (base + ".esl"), signature_list(made.cert_der, owner));
    modes.push_back(0644);
    files.emplace_back(dir / (base + ".cer"), std::move(made.cert_der));
    modes.push_back(0644);
  }
  files.emplace_back(guid_path, guid_text(owner) + "\n");
  modes.push_back(0644);

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  for (size_t i = 0; i < files.size(); ++i) {
    auto written = key_store::write_new_file(files[i].first, files[i].second, modes[i]);
    if (!written) {
      for (size_t j = 0; j < i; ++j) ::unlink(files[j].first.c_str());
      return std::move(written).error();
    }
  }
  return Ok{};
}

}  // namespace ef::signing
