// Version ranges for pack constraints, over util's semver (ef::SemVer).
#pragma once

#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/semver.hpp"

namespace ef::packs {

/// A range: comparator sets separated by "||", each a space-separated AND of
/// comparators: ">=1.2.0 <2.0.0", "=1.2.3", "1.2.3", "^1.2.0", "~1.2.0", "*".
class VersionRange {
 public:
  /// Parses `text`; Errc::invalid_argument naming the comparator that is not one.
  static Result<VersionRange> parse(const std::string& text);
  bool contains(const SemVer& v) const;
  const std::string& text() const { return text_; }

 private:
  struct Comparator {
    enum class Op { eq, lt, le, gt, ge } op = Op::eq;
    SemVer version;
  };
  /// Appends the comparators one token stands for ("^1.2.0" is two).
  static Result<void> add_token(const std::string& tok, std::vector<Comparator>& out);

  std::vector<std::vector<Comparator>> sets_;
  std::string text_;
};

}  // namespace ef::packs
