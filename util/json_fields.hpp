// Strict reading of one JSON object: members are taken by name and type, and
// finish() complains about any member nobody took, so an unknown key in a
// signed document never passes silently. Shared by the bundle manifest and
// the channel document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

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

}  // namespace ef
