// Strict reading of one JSON object: members are taken by name and type, and
// finish() complains about any member nobody took, so an unknown key in a
// signed document never passes silently. Shared by the bundle manifest and
// the channel document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>

#include "util/error.hpp"
#include "util/semver.hpp"

namespace ef {

class JsonFields {
 public:
  /// Reads `object` (which must outlive this); `path` prefixes key names in
  /// messages ("release." gives "release.sha256"); errors carry `code`;
  /// `unknown_hint` follows the unknown-key message ("this edgeforge reads
  /// format 1").
  JsonFields(const nlohmann::json& object, std::string path, Errc code, std::string unknown_hint)
      : object_(object), path_(std::move(path)), code_(code), hint_(std::move(unknown_hint)) {}

  /// A string of 1 to `max_bytes` bytes without control characters.
  Result<std::string> string(const char* key, size_t max_bytes);
  Result<uint64_t> uint(const char* key);
  Result<uint32_t> uint32(const char* key);
  Result<bool> boolean(const char* key);
  /// Lower-case hex of `min_digits` to `max_digits` digits, an even number.
  Result<std::string> hex(const char* key, size_t min_digits, size_t max_digits);
  /// A semantic version string of at most `max_bytes`.
  Result<SemVer> version(const char* key, size_t max_bytes);
  Result<const nlohmann::json*> object(const char* key);
  Result<const nlohmann::json*> array(const char* key);

  /// "\"PATHkey\"", for messages.
  std::string name(const char* key) const { return "\"" + path_ + key + "\""; }
  const std::string& path() const { return path_; }
  bool has(const char* key) const { return object_.contains(key); }
  /// An error with this reader's code.
  Error bad(const std::string& message) const { return Error(code_, message); }
  /// Errors on keys nobody took.
  Result<void> finish() const;

 private:
  Result<const nlohmann::json*> take(const char* key);
  Error type_error(const char* key, const char* what) const {
    return bad(name(key) + " must be " + what);
  }

  const nlohmann::json& object_;
  std::string path_;
  Errc code_;
  std::string hint_;
  std::set<std::string> taken_;
};

/// Lookups in documents from outside, where a missing key and a wrong type
/// both read as absent (nlohmann's value() throws on either): `key` of `j`
/// when `j` is an object holding it, else null; its text when it is a
/// string, else "".
inline const nlohmann::json* member_of(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
inline std::string string_of(const nlohmann::json& j, const char* key) {
  const nlohmann::json* v = member_of(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

/// `v` as the integer type T. Throws nlohmann's own exceptions (what its
/// get<T>() throws for a string) when `v` is not an integer (type_error 302)
/// or does not fit T (out_of_range 406). Use it for every number read from a
/// file or a peer: get<T>() converts a float with a plain cast, which is
/// undefined behaviour for 1e20 and quietly truncates 1.5.
template <typename T>
T json_integer(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  using json = nlohmann::json;
  using limits = std::numeric_limits<T>;
  if (!v.is_number_integer()) throw json::type_error::create(302, "must be an integer", &v);
  auto out_of_range = [&] { return json::out_of_range::create(406, "integer out of range", &v); };
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(limits::max())) throw out_of_range();
    return static_cast<T>(u);
  }
  const auto i = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (i < 0 || static_cast<uint64_t>(i) > static_cast<uint64_t>(limits::max()))
      throw out_of_range();
  } else if (i < static_cast<int64_t>(limits::min()) || i > static_cast<int64_t>(limits::max())) {
    throw out_of_range();
  }
  return static_cast<T>(i);
}

}  // namespace ef
