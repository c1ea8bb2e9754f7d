// UEFI Secure Boot signing: Authenticode signatures on PE images (EFI
// executables, unified kernel images), and the PK/KEK/db keys a machine's
// firmware is enrolled with. OpenSSL stays behind this interface.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::signing {

/// Signs PE images for Secure Boot with an RSA key (2048 to 4096 bits, what
/// UEFI firmware verifies) and its X.509 certificate. Move-only.
class PeSigner {
 public:
  /// Loads the private key `key_ref` (a PEM file path, or a URI an OpenSSL
  /// provider opens, e.g. "pkcs11:token=edge;object=db") with an optional
  /// passphrase, and the PEM certificate `certificate`, which must hold
  /// the key's public half.
  static Result<PeSigner> load(const std::string& key_ref, const std::filesystem::path& certificate,
                               const Passphrase& passphrase = {});
  PeSigner(PeSigner&&) noexcept;
  PeSigner& operator=(PeSigner&&) noexcept;
  ~PeSigner();

  /// Returns `pe_image` with one Authenticode signature (PKCS#7 SignedData
  /// over SpcIndirectDataContent, SHA-256, RSA PKCS#1 v1.5) in its
  /// certificate table, replacing any signature it had. Deterministic: no
  /// signing time, so the same image, key and certificate give the same
  /// bytes.
  Result<std::string> sign(std::string_view pe_image) const;

 private:
  struct Impl;
  explicit PeSigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Writes the keys to enroll in UEFI firmware into `dir`: for each of PK,
/// KEK and db an RSA-2048 key NAME.key (PEM, 0600), a self-signed X.509 v3
/// certificate valid 20 years with CN "<common_name_prefix> NAME" as
/// NAME.crt (PEM) and NAME.cer (DER), and NAME.esl, an EFI_SIGNATURE_LIST
/// holding the certificate; the list's owner GUID, random, also goes to
/// owner-guid.txt. Refuses to overwrite existing files.
Result<void> generate_secure_boot_keys(const std::filesystem::path& dir,
                                       const std::string& common_name_prefix);

}  // namespace ef::signing
