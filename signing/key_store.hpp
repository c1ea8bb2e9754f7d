// Loading private keys (PEM files, OpenSSL provider URIs, the pkcs11 engine)
// and writing new key files without overwriting: shared by the bundle keys
// (keys.cpp) and the Secure Boot keys (authenticode.cpp). Internal to
// signing/.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "signing/keys.hpp"
#include "signing/openssl_util.hpp"
#include "util/error.hpp"

namespace ef::signing::key_store {

struct LoadedKey {
  ossl::PkeyPtr pkey;
  /// False for keys in a token (pkcs11: and other provider URIs but file:),
  /// whose private half cannot be written out.
  bool exportable = true;
};

/// Loads the private key `ref`: a PEM file path, or a URI an OpenSSL
/// provider opens (a pkcs11: URI nothing opens falls back to the libp11
/// engine), decrypted with `passphrase` when given. Errors name `ref` and
/// say when a passphrase is missing or wrong.
Result<LoadedKey> load_private_key(const std::string& ref, const Passphrase& passphrase);

/// Writes `data` to the new file `target` with `mode`: a synced temporary
/// file hard-linked to `target`, which fails rather than replaces when
/// `target` exists.
Result<void> write_new_file(const std::filesystem::path& target, std::string_view data,
                            mode_t mode);

/// An error when anything (even a dangling symlink) is at `path`.
Result<void> refuse_existing(const std::filesystem::path& path);

}  // namespace ef::signing::key_store
