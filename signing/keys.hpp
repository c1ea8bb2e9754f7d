// Signing keys: generation, loading (PEM files or OpenSSL provider URIs such
// as pkcs11:), key IDs, signing and verifying. OpenSSL stays behind this
// interface; no EVP_PKEY leaves the signing module.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef::signing {

/// Signature algorithms a bundle may name. The name is what the bundle
/// format stores; each maps to exactly one OpenSSL operation.
enum class Algorithm {
  ed25519,             // "ed25519": pure Ed25519 over the message
  ecdsa_p256_sha256,   // "ecdsa-p256-sha256": ECDSA P-256, SHA-256, DER signature
  rsa3072_pss_sha256,  // "rsa3072-pss-sha256": RSA-3072 PSS, SHA-256, MGF1-SHA-256, salt = digest
                       // length
};

/// "ed25519", "ecdsa-p256-sha256", "rsa3072-pss-sha256".
const char* algorithm_name(Algorithm a);
/// Parses an algorithm name; an unknown name is Errc::invalid_argument.
Result<Algorithm> parse_algorithm(std::string_view name);

/// Where a private key's passphrase comes from (never the command line).
struct Passphrase {
  std::filesystem::path file;  // first line of this file, or
  std::string env;             // the value of this environment variable
  bool empty() const { return file.empty() && env.empty(); }
};

/// A public key (for verifying). Move-only.
class PublicKey {
 public:
  /// Loads a PEM SubjectPublicKeyInfo file.
  static Result<PublicKey> load(const std::filesystem::path& pem);
  /// Parses PEM text.
  static Result<PublicKey> from_pem(std::string_view pem);
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  Algorithm algorithm() const;
  /// Lower-case hex sha256 of the SubjectPublicKeyInfo DER.
  const std::string& key_id() const;
  std::string pem() const;
  /// True when `signature` is a valid signature of `message` by this key.
  /// Malformed signatures are just invalid (false), never an error.
  bool verify(std::string_view message, std::string_view signature) const;

 private:
  friend class SigningKey;  // SigningKey::public_key() builds one
  struct Impl;
  explicit PublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A private key (for signing): a PEM file or an OpenSSL provider URI.
class SigningKey {
 public:
  /// Generates a new key of `algorithm`.
  static Result<SigningKey> generate(Algorithm algorithm);
  /// Loads `ref`: a PEM file path, or a URI an OpenSSL provider opens
  /// (e.g. "pkcs11:token=edge;object=release"), with an optional passphrase.
  static Result<SigningKey> load(const std::string& ref, const Passphrase& passphrase = {});
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  Algorithm algorithm() const;
  const std::string& key_id() const;
  PublicKey public_key() const;
  /// Signs `message` (the exact bytes; Ed25519 signs them directly).
  Result<std::string> sign(std::string_view message) const;
  /// PEM PKCS#8, encrypted with AES-256-CBC when `passphrase` is non-empty.
  Result<std::string> private_pem(const std::string& passphrase = "") const;

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Reads a passphrase from its file or environment variable.
Result<std::string> read_passphrase(const Passphrase& passphrase);

/// `edgeforge keygen`: writes DIR/signing.key (0600) and DIR/signing.pub and
/// returns the key ID. Refuses to overwrite existing files.
Result<std::string> generate_key_files(const std::filesystem::path& dir, Algorithm algorithm,
                                       const Passphrase& passphrase = {});

}  // namespace ef::signing
