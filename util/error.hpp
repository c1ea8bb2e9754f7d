// Error values and Result<T>: how every edgeforge library reports failure.
//
// An Error carries a machine-readable code and one human line. Context is
// prepended as the error travels up ("profile.yaml:3:5: ..."), so the user
// sees one line that says what failed, where, and what to do.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ef {

enum class Errc {
  invalid_argument,  // bad command-line usage
  invalid_profile,   // profile YAML does not match the schema
  not_found,         // a file or cache entry does not exist
  io,                // reading or writing a file failed
  checksum,          // content does not match its pinned sha256
  network,           // a download failed
  offline,           // an input is not in the cache and --offline was given
  archive,           // an input archive is malformed
  hostile_entry,     // an input entry tries to escape or corrupt the tree
  image,             // writing or reading a squashfs image failed
  subprocess,        // an external tool failed
  bad_bundle,        // a bundle file is malformed (header, manifest, signature block)
  bad_channel,       // a channel file is malformed (format, wave plan, URLs)
  untrusted,         // a bundle has no valid signature by a trusted, non-revoked key
  refused,           // a valid bundle that policy refuses (compatible, version floor)
  database,          // the database is unreachable or failed a statement
  internal,          // a bug in edgeforge
};

/// Returns a stable, lower-case name for `code` (used in --json output).
const char* errc_name(Errc code);

class Error {
 public:
  /// Creates an error with `code` and a human-readable `message`.
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }

  /// Returns a copy with `context` prepended as "context: message".
  Error with_context(const std::string& context) const& {
    return Error(code_, context + ": " + message_);
  }
  Error with_context(const std::string& context) && {
    message_ = context + ": " + message_;
    return std::move(*this);
  }

 private:
  Errc code_;
  std::string message_;
};

/// Marker for a successful Result<void>.
struct Ok {};

/// Either a value of type T or an Error. A small stand-in for C++23's
/// std::expected, which the Debian 12 toolchain lacks in C++20 mode.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                                  // NOLINT: implicit by design
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_{Errc::internal, ""};
  bool ok_ = true;
};

/// Returns an Error for the current errno: "<what>: <strerror>".
Error errno_error(Errc code, const std::string& what, int err);

}  // namespace ef

// Propagates an error from an expression returning Result<...>; evaluates to
// nothing. Usage: EF_TRY(write_all(fd, data));
#define EF_TRY(expr)                                               \
  do {                                                             \
    auto ef_try_result_ = (expr);                                  \
    if (!ef_try_result_) return std::move(ef_try_result_).error(); \
  } while (0)

// Assigns the value of a Result<T> expression to `lhs`, or returns its error.
// Usage: EF_ASSIGN(auto file, open_file(path));
#define EF_CONCAT_INNER(a, b) a##b
#define EF_CONCAT(a, b) EF_CONCAT_INNER(a, b)
#define EF_ASSIGN(lhs, expr) EF_ASSIGN_IMPL(EF_CONCAT(ef_assign_tmp_, __LINE__), lhs, expr)
#define EF_ASSIGN_IMPL(tmp, lhs, expr)     \
  auto tmp = (expr);                       \
  if (!tmp) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
