// The ENGINE API is deprecated in OpenSSL 3, and this file is its only user.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "signing/pkcs11_engine.hpp"

#include <openssl/opensslconf.h>
#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#endif

namespace ef::signing {

#ifndef OPENSSL_NO_ENGINE

namespace {

// Starts the pkcs11 engine once and keeps it for the life of the process
// (OpenSSL's exit-time cleanup releases it): starting libp11 again after
// ENGINE_finish proved unreliable, with keys loaded afterwards failing to
// sign ("Object handle invalid").
Result<ENGINE*> start_pkcs11_engine() {
  ENGINE* engine = ENGINE_by_id("pkcs11");
  if (!engine)
    return Error(Errc::invalid_argument,
                 "no OpenSSL provider or engine handles pkcs11: URIs (" + ossl::take_error() +
                     "): install pkcs11-provider, or libengine-pkcs11-openssl");
  if (!ENGINE_init(engine)) {
    std::string why = ossl::take_error();
    ENGINE_free(engine);
    return Error(Errc::invalid_argument, "cannot start the OpenSSL pkcs11 engine: " + why);
  }
  ENGINE_free(engine);  // the functional reference from ENGINE_init stays
  return engine;
}

const Result<ENGINE*>& pkcs11_engine() {
  static const Result<ENGINE*> engine = start_pkcs11_engine();
  return engine;
}

}  // namespace

Result<ossl::PkeyPtr> load_pkcs11_engine_key(const std::string& uri,
                                             ossl::PassphraseSource& source) {
  const auto& engine = pkcs11_engine();
  if (!engine) return engine.error();
  auto ui = ossl::passphrase_ui_method();
  if (!ui) return Error(Errc::internal, "cannot create an OpenSSL UI method");
  ossl::PkeyPtr pkey(ENGINE_load_private_key(*engine, uri.c_str(), ui.get(), &source));
  if (!pkey)
    return Error(Errc::invalid_argument,
                 "cannot load " + uri + " through the pkcs11 engine: " + ossl::take_error());
  return pkey;
}

#else

Result<ossl::PkeyPtr> load_pkcs11_engine_key(const std::string& uri, ossl::PassphraseSource&) {
  return Error(Errc::invalid_argument,
               "no OpenSSL provider handles " + uri + " and this OpenSSL has no engine support");
}

#endif

}  // namespace ef::signing
