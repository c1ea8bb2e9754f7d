// A yaml-cpp node that knows where it is, so every schema error can say
// "file:line:col: spec.layers[0].tarball.path: what is wrong". Internal to
// ef_profile; nothing outside builder/profile sees yaml-cpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::profile::detail {

class SchemaNode {
 public:
  /// The document root of `file`.
  SchemaNode(YAML::Node node, std::string file);

  const YAML::Node& yaml() const { return node_; }
  /// Dotted path from the document root, e.g. "spec.layers[0].tarball".
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  /// Where the value is; for an empty value, where its key is (yaml-cpp
  /// places empty values at the next token, which misleads).
  SourceLoc loc() const;
  bool is_null() const { return node_.IsNull(); }

  /// Errc::invalid_profile (or `code`): "loc: path: message".
  Error error(const std::string& message, Errc code = Errc::invalid_profile) const;

  /// Checks this is a mapping with unique keys, all of them in `allowed`.
  Result<void> expect_map(std::initializer_list<std::string_view> allowed) const;
  /// The value under `key` of a mapping checked by expect_map, if present.
  std::optional<SchemaNode> get(std::string_view key) const;
  /// Like get(), but a missing key is an error located at this mapping.
  Result<SchemaNode> require(std::string_view key) const;
  /// Of the keys in `kinds`, the one that is present: exactly one must be.
  Result<std::string> one_of(std::initializer_list<std::string_view> kinds) const;

  /// The items of a sequence.
  Result<std::vector<SchemaNode>> items() const;
  /// A scalar's text (quoted or not).
  Result<std::string> as_string() const;
  /// A sequence of scalars.
  Result<std::vector<std::string>> as_strings() const;
  /// A plain (unquoted) true or false.
  Result<bool> as_bool() const;
  /// A plain decimal integer in [min, max].
  Result<int64_t> as_int(int64_t min, int64_t max) const;

  /// What the value is, for "expected X, got Y": "a sequence", "a mapping",
  /// "null" or "a string \"abc\"".
  std::string describe() const;

 private:
  SchemaNode(YAML::Node node, std::string file, std::string path, YAML::Mark key_mark);
  SourceLoc loc_of(const YAML::Mark& mark) const;
  Error expected(const std::string& what) const;

  YAML::Node node_;
  std::string file_;
  std::string path_;
  YAML::Mark key_mark_;
};

/// Sets `out` to `parse(value)` when `map` has `key`; leaves it otherwise.
template <typename T, typename Parse>
Result<void> read_optional(const SchemaNode& map, std::string_view key, T& out, Parse parse) {
  if (auto value = map.get(key)) {
    EF_ASSIGN(out, parse(*value));
  }
  return Ok{};
}

}  // namespace ef::profile::detail
