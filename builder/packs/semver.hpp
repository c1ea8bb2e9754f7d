// Semantic versions (semver 2.0) and the version ranges pack constraints use.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ef::packs {

struct Semver {
  int major = 0, minor = 0, patch = 0;
  std::vector<std::string> pre;  // pre-release identifiers; empty for a release
  /// Parses "1.2.3", "v1.2.3", "1.2.3-rc.1+build"; nullopt when not semver.
  static std::optional<Semver> parse(const std::string& text);
  /// <0, 0, >0 by semver precedence (build metadata ignored).
  int compare(const Semver& other) const;
};

/// A range: comparator sets separated by "||", each a space-separated AND of
/// comparators: ">=1.2.0 <2.0.0", "=1.2.3", "1.2.3", "^1.2.0", "~1.2.0", "*".
class VersionRange {
 public:
  /// Parses `text`; nullopt when it is not a range.
  static std::optional<VersionRange> parse(const std::string& text);
  bool contains(const Semver& v) const;
  const std::string& text() const { return text_; }

 private:
  struct Comparator {
    enum class Op { eq, lt, le, gt, ge } op = Op::eq;
    Semver version;
  };
  std::vector<std::vector<Comparator>> sets_;
  std::string text_;
};

}  // namespace ef::packs
