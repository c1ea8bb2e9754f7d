// Small RAII and error helpers for the OpenSSL handles the signing module
// uses. Internal to signing/: nothing here is part of its interface.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/store.h>
#include <openssl/ui.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef::signing::ossl {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using StoreCtxPtr = std::unique_ptr<OSSL_STORE_CTX, Deleter<OSSL_STORE_close>>;
using StoreInfoPtr = std::unique_ptr<OSSL_STORE_INFO, Deleter<OSSL_STORE_INFO_free>>;
using UiMethodPtr = std::unique_ptr<UI_METHOD, Deleter<UI_destroy_method>>;

/// Takes the oldest reason from OpenSSL's error queue as one short phrase
/// ("bad decrypt") and clears the queue; `fallback` when the queue is empty.
std::string take_error(std::string_view fallback = "unknown OpenSSL error");

/// `s` as the unsigned bytes OpenSSL's functions take.
inline const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// Signs `message` with `key` through EVP_DigestSign: `md` hashes it (null
/// for Ed25519, which signs the message itself), `configure` sets the
/// padding on the key's context (false: it could not). Bundle keys
/// (keys.cpp) and Secure Boot signatures (authenticode.cpp) both sign here.
Result<std::string> digest_sign(EVP_PKEY* key, const EVP_MD* md,
                                const std::function<bool(EVP_PKEY_CTX*)>& configure,
                                std::string_view message);

/// A read-only memory BIO over `data` (which must outlive it).
BioPtr memory_bio(std::string_view data);

/// Everything written to a memory BIO so far.
std::string bio_contents(BIO* bio);

/// Where a passphrase (or PIN) for a key comes from while it is loaded, and
/// whether OpenSSL asked for it.
struct PassphraseSource {
  const std::string* passphrase = nullptr;  // null: none given
  bool asked = false;
};

/// pem_password_cb over a PassphraseSource passed as `userdata`.
int passphrase_callback(char* buf, int size, int rwflag, void* userdata);

/// A UI_METHOD answering prompts with passphrase_callback (UI user data: a
/// PassphraseSource), for OSSL_STORE and engines.
UiMethodPtr passphrase_ui_method();

}  // namespace ef::signing::ossl
