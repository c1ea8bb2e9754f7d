// Fallback for pkcs11: URIs when no OpenSSL provider opens them: Debian 12
// ships the libp11 pkcs11 *engine* (libengine-pkcs11-openssl) but no pkcs11
// provider, and engines register no OSSL_STORE loader. Internal to signing/.
#pragma once

#include <string>

#include "signing/openssl_util.hpp"
#include "util/error.hpp"

namespace ef::signing {

/// Loads the private key `uri` through the "pkcs11" engine; PIN prompts are
/// answered from `source` (unless the URI carries pin-value).
Result<ossl::PkeyPtr> load_pkcs11_engine_key(const std::string& uri,
                                             ossl::PassphraseSource& source);

}  // namespace ef::signing
