#include "signing/openssl_util.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>

namespace ef::signing::ossl {

Result<std::string> digest_sign(EVP_PKEY* key, const EVP_MD* md,
                                const std::function<bool(EVP_PKEY_CTX*)>& configure,
                                std::string_view message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ERR_clear_error();
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) != 1 || !configure(pctx))
    return Error(Errc::internal, "cannot start signing: " + take_error());
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, bytes(message), message.size()) != 1)
    return Error(Errc::internal, "cannot sign: " + take_error());
  std::string signature(len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(signature.data());
  if (EVP_DigestSign(ctx.get(), out, &len, bytes(message), message.size()) != 1)
    return Error(Errc::internal, "cannot sign: " + take_error());
  signature.resize(len);
  return signature;
}

std::string take_error(std::string_view fallback) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  const char* reason = ERR_reason_error_string(code);
  if (reason) return reason;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

BioPtr memory_bio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || !data) return {};
  return std::string(data, static_cast<size_t>(size));
}

int passphrase_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* source = static_cast<PassphraseSource*>(userdata);
  if (!source) return -1;
  source->asked = true;
  if (!source->passphrase || size <= 0) return -1;
  const std::string& pass = *source->passphrase;
  size_t n = std::min(pass.size(), static_cast<size_t>(size));
  std::memcpy(buf, pass.data(), n);
  return static_cast<int>(n);
}

UiMethodPtr passphrase_ui_method() {
  return UiMethodPtr(UI_UTIL_wrap_read_pem_callback(passphrase_callback, 0));
}

}  // namespace ef::signing::ossl
