#include "fleet/session.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>

#include "util/sha256.hpp"

namespace ef::fleet {
namespace {

constexpr std::string_view kVersion = "v1";
// Longer secrets are refused before hashing: sha512crypt's work grows with
// the password's length, and no token of ours is that long.
constexpr size_t kMaxSecret = 1024;
constexpr size_t kMaxCookie = 1024;
// The cost of a check against a password hash is paid for unknown names
// too, so the time of a failed log-in does not tell which names exist.
constexpr const char* kDummySetting = "$6$edgeforgefleet$";

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// Whether `password` hashes to `hash` under crypt(3).
bool crypt_matches(std::string_view password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  return out != nullptr && out[0] != '*' && same(out, hash);
}

std::vector<std::string_view> split_dots(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

Result<void> check_password_hash(const std::string& hash) {
  switch (crypt_checksalt(hash.c_str())) {
    case CRYPT_SALT_OK:
    case CRYPT_SALT_TOO_CHEAP:
      break;
    case CRYPT_SALT_METHOD_LEGACY:
      return Error(Errc::invalid_argument,
                   "a legacy crypt method (DES, MD5, ...): use yescrypt ($y$, mkpasswd) or "
                   "sha512crypt ($6$, openssl passwd -6)");
    default:
      return Error(Errc::invalid_argument,
                   "not a crypt(3) hash this system checks: use yescrypt ($y$, mkpasswd) or "
                   "sha512crypt ($6$, openssl passwd -6)");
  }
  // The setting alone ("$6$salt$") would pass crypt_checksalt; a hash has more.
  if (hash.find('$', 1) == std::string::npos || hash.back() == '$')
    return Error(Errc::invalid_argument, "a crypt(3) setting without the hash itself");
  return {};
}

Sessions::Sessions(const ApiConfig& config)
    : operators_(config.operators), lifetime_(config.session_seconds) {
  std::string root = config.session_secret;
  if (root.empty()) {
    // No shared secret given: every instance reads the same operator
    // entries, so a key derived from them is shared as well.
    for (const auto& o : operators_)
      root += o.name + '\n' + o.token_sha256 + '\n' + o.password_hash + '\n';
  }
  key_ = hmac_sha256("edgeforge-fleet session key v1", root);
}

const ApiConfig::Operator* Sessions::find(std::string_view name) const {
  for (const auto& o : operators_)
    if (o.name == name) return &o;
  return nullptr;
}

std::string Sessions::operator_key(const ApiConfig::Operator& o) const {
  return hmac_sha256(key_,
                     "operator\n" + o.name + '\n' + o.token_sha256 + '\n' + o.password_hash + '\n');
}

std::optional<std::string> Sessions::log_in(std::string_view name, std::string_view secret) const {
  if (secret.empty() || secret.size() > kMaxSecret) return std::nullopt;
  const std::string digest = sha256_hex(secret);
  for (const auto& o : operators_)
    if (!o.token_sha256.empty() && same(o.token_sha256, digest))
      return name.empty() || name == o.name ? std::optional(o.name) : std::nullopt;
  const ApiConfig::Operator* o = find(name);
  if (o == nullptr || o->password_hash.empty()) {
    crypt_matches(secret, kDummySetting);
    return std::nullopt;
  }
  if (!crypt_matches(secret, o->password_hash)) return std::nullopt;
  return o->name;
}

std::string Sessions::issue(const std::string& name, UnixSeconds now) const {
  const ApiConfig::Operator* o = find(name);
  unsigned char nonce[16];
  if (o == nullptr || RAND_bytes(nonce, sizeof nonce) != 1) return "";
  const std::string body = std::string(kVersion) + '.' + to_hex(name) + '.' +
                           std::to_string(now + static_cast<int64_t>(lifetime_)) + '.' +
                           to_hex(std::string_view(reinterpret_cast<char*>(nonce), sizeof nonce));
  return body + '.' + to_hex(hmac_sha256(operator_key(*o), body));
}

std::optional<std::string> Sessions::verify(std::string_view cookie, UnixSeconds now) const {
  if (cookie.size() > kMaxCookie) return std::nullopt;
  auto parts = split_dots(cookie);
  if (parts.size() != 5 || parts[0] != kVersion) return std::nullopt;
  auto name = from_hex(parts[1]);
  if (!name) return std::nullopt;
  const ApiConfig::Operator* o = find(*name);
  if (o == nullptr) return std::nullopt;
  const std::string_view body = cookie.substr(0, cookie.rfind('.'));
  if (!same(to_hex(hmac_sha256(operator_key(*o), body)), parts[4])) return std::nullopt;
  // The MAC holds, so the expiry is the service's own number.
  const std::string expiry(parts[2]);
  if (expiry.empty() || expiry.size() > 18 ||
      expiry.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int64_t until = std::stoll(expiry);
  // A lifetime shortened in the configuration also shortens older sessions.
  if (now >= until || until - now > static_cast<int64_t>(lifetime_)) return std::nullopt;
  return *name;
}

std::string Sessions::csrf_token(std::string_view cookie) const {
  return to_hex(hmac_sha256(key_, "csrf\n" + std::string(cookie)));
}

bool Sessions::csrf_matches(std::string_view cookie, std::string_view token) const {
  return same(csrf_token(cookie), token);
}

}  // namespace ef::fleet
