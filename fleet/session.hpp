// Operators' log-in to the dashboard with no state in the service: several
// instances share one database and nothing else, so a session is a cookie
// that carries its own proof. Its value is
//   v1.<operator name, hex>.<expiry, Unix seconds>.<nonce, hex>.<MAC, hex>
// where the MAC is HMAC-SHA256 under a key derived from the configuration
// (sessionSecret, or else the operators' entries) and from that operator's
// own entry, so every instance with the same configuration accepts it, and
// changing an operator's token or password hash ends that operator's
// sessions. Forms carry a CSRF token derived from the session cookie by HMAC.
// Passwords are crypt(3) hashes checked with libcrypt (libxcrypt).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/api.hpp"
#include "util/error.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet {

class Sessions {
 public:
  /// Derives the keys from `config`'s session_secret (or, when it is empty,
  /// from its operators), operators and session lifetime.
  explicit Sessions(const ApiConfig& config);

  /// The name of the operator that `secret` logs in: an operator token (then
  /// `name` may be empty, else it must be that operator's), or the password
  /// of the operator called `name`. nullopt when neither matches.
  std::optional<std::string> log_in(std::string_view name, std::string_view secret) const;

  /// A new session cookie value for operator `name`, good until `now` plus
  /// the session lifetime.
  std::string issue(const std::string& name, UnixSeconds now) const;

  /// The operator whose session `cookie` is at time `now`; nullopt for a
  /// malformed, forged or expired cookie, and for one of an operator whose
  /// entry is gone from the configuration or has changed.
  std::optional<std::string> verify(std::string_view cookie, UnixSeconds now) const;

  /// The CSRF token of the session `cookie` (64 hex digits), and whether
  /// `token` is it (compared in constant time).
  std::string csrf_token(std::string_view cookie) const;
  bool csrf_matches(std::string_view cookie, std::string_view token) const;

  uint64_t lifetime_seconds() const { return lifetime_; }

 private:
  const ApiConfig::Operator* find(std::string_view name) const;
  std::string operator_key(const ApiConfig::Operator& o) const;

  std::string key_;  // 32 bytes: the root of every MAC here
  std::vector<ApiConfig::Operator> operators_;
  uint64_t lifetime_;
};

/// Errc::invalid_argument unless `hash` is a crypt(3) hash of a method that
/// libcrypt (libxcrypt) supports and does not call legacy: yescrypt ($y$),
/// gost-yescrypt ($gy$), scrypt ($7$), bcrypt ($2b$), sha512crypt ($6$).
Result<void> check_password_hash(const std::string& hash);

/// HMAC-SHA256 of `message` under `key`: 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);

}  // namespace ef::fleet
