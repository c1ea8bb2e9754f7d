#include "signing/key_store.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <optional>

#include "signing/pkcs11_engine.hpp"
#include "util/atomic_file.hpp"
#include "util/unique_fd.hpp"

namespace ef::signing::key_store {

namespace {

using ossl::PkeyPtr;

// --- loading -----------------------------------------------------------------

// The error for a key that could not be decoded after OpenSSL asked for a
// passphrase; nullopt when it never asked.
std::optional<Error> passphrase_error(const std::string& ref, const ossl::PassphraseSource& src) {
  if (!src.asked) return std::nullopt;
  ERR_clear_error();
  if (!src.passphrase)
    return Error(Errc::invalid_argument,
                 "signing key " + ref +
                     " is encrypted: give its passphrase with --passphrase-file or "
                     "--passphrase-env");
  return Error(Errc::invalid_argument, "wrong passphrase for " + ref);
}

// "pkcs11" for "pkcs11:token=x", "" when `ref` does not start with a scheme.
std::string uri_scheme(const std::string& ref) {
  size_t colon = ref.find(':');
  if (colon == std::string::npos || colon < 2) return {};
  auto valid = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  if (!std::isalpha(static_cast<unsigned char>(ref[0]))) return {};
  for (size_t i = 1; i < colon; ++i)
    if (!valid(ref[i])) return {};
  return ref.substr(0, colon);
}

Result<PkeyPtr> load_pem_file(const std::string& ref, ossl::PassphraseSource& src) {
  EF_ASSIGN(std::string text, read_file(ref));
  auto bio = ossl::memory_bio(text);
  ERR_clear_error();
  PkeyPtr pkey(PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, ossl::passphrase_callback, &src,
                                          nullptr, nullptr));
  if (pkey) return pkey;
  if (auto error = passphrase_error(ref, src)) return std::move(*error);
  return Error(Errc::invalid_argument,
               ref + " is not a PEM private key: " + ossl::take_error("no key found"));
}

// Takes the first private key OSSL_STORE finds at an open store.
PkeyPtr first_private_key(OSSL_STORE_CTX* store) {
  while (!OSSL_STORE_eof(store)) {
    ossl::StoreInfoPtr info(OSSL_STORE_load(store));
    if (!info) {
      if (OSSL_STORE_error(store)) break;
      continue;
    }
    if (OSSL_STORE_INFO_get_type(info.get()) == OSSL_STORE_INFO_PKEY)
      return PkeyPtr(OSSL_STORE_INFO_get1_PKEY(info.get()));
  }
  return nullptr;
}

// Opens `ref` with OSSL_STORE (the default provider's file: loader and any
// provider loaded by the OpenSSL configuration, e.g. pkcs11-provider). When
// nothing opens a pkcs11: URI, falls back to the libp11 pkcs11 engine.
Result<PkeyPtr> load_uri(const std::string& ref, ossl::PassphraseSource& src) {
  auto ui = ossl::passphrase_ui_method();
  if (!ui) return Error(Errc::internal, "cannot create an OpenSSL UI method");
  ERR_clear_error();
  ossl::StoreCtxPtr store(OSSL_STORE_open(ref.c_str(), ui.get(), &src, nullptr, nullptr));
  if (!store && uri_scheme(ref) == "pkcs11") {
    ERR_clear_error();
    return load_pkcs11_engine_key(ref, src);
  }
  if (!store)
    return Error(Errc::invalid_argument,
                 "no OpenSSL provider opens " + ref + ": " + ossl::take_error());
  OSSL_STORE_expect(store.get(), OSSL_STORE_INFO_PKEY);
  PkeyPtr pkey = first_private_key(store.get());
  if (pkey) return pkey;
  if (auto error = passphrase_error(ref, src)) return std::move(*error);
  return Error(Errc::invalid_argument,
               "no private key found at " + ref + ": " + ossl::take_error("nothing there"));
}

// --- writing key files -------------------------------------------------------

Result<void> write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(Errc::io, "cannot write " + name, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok{};
}

}  // namespace

// Writes `data` to a new file `target` with `mode`: a temporary file is
// written and synced, then hard-linked to `target`, which fails (rather than
// replaces) when `target` already exists.
Result<void> write_new_file(const std::filesystem::path& target, std::string_view data,
                            mode_t mode) {
  std::string temp = target.string() + ".tmp-XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd)
    return errno_error(Errc::io, "cannot create a temporary file for " + target.string(), errno);
  struct Unlink {
    std::string path;
    ~Unlink() { ::unlink(path.c_str()); }
  } cleanup{temp};
  if (::fchmod(fd.get(), mode) != 0) return errno_error(Errc::io, "cannot chmod " + temp, errno);
  EF_TRY(write_all(fd.get(), data, temp));
  if (::fsync(fd.get()) != 0) return errno_error(Errc::io, "cannot sync " + temp, errno);
  if (::link(temp.c_str(), target.c_str()) != 0) {
    if (errno == EEXIST)
      return Error(Errc::invalid_argument,
                   target.string() + " already exists: refusing to overwrite it");
    return errno_error(Errc::io, "cannot create " + target.string(), errno);
  }
  return Ok{};
}

Result<void> refuse_existing(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found)
    return Error(Errc::invalid_argument,
                 path.string() + " already exists: refusing to overwrite it");
  return Ok{};
}

Result<LoadedKey> load_private_key(const std::string& ref, const Passphrase& passphrase) {
  std::optional<std::string> pass;
  if (!passphrase.empty()) {
    EF_ASSIGN(pass, read_passphrase(passphrase));
  }
  ossl::PassphraseSource src{pass ? &*pass : nullptr};
  std::error_code ec;
  std::string scheme = uri_scheme(ref);
  bool is_uri = !scheme.empty() && !std::filesystem::exists(ref, ec);
  EF_ASSIGN(PkeyPtr pkey, is_uri ? load_uri(ref, src) : load_pem_file(ref, src));
  return LoadedKey{std::move(pkey), !is_uri || scheme == "file"};
}

}  // namespace ef::signing::key_store
