// HTML for the fleet dashboard (fleet/dashboard.hpp) without a template
// engine: pages are put together from patterns written in this program, and
// every other value — device IDs, errors, tags, channel names, which devices
// and the database control — goes in as text and is escaped. The types keep
// the two apart: only a compile-time Pattern, or escaped text, becomes
// Markup.
#pragma once

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace ef::fleet::html {

/// `text` with & < > " ' replaced by character references: safe in element
/// content and in quoted attribute values.
std::string escape(std::string_view text);

/// `text` percent-encoded for one path segment or form value of a URL
/// (everything but A-Z a-z 0-9 - . _ ~).
std::string url_part(std::string_view text);

/// How many places for values ("{}") `text` holds.
consteval size_t count_places(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i)
    if (text[i] == '{' && text[i + 1] == '}') ++n, ++i;
  return n;
}

/// A pattern of markup with `Places` places ("{}") for values: a string
/// constant of this program, never text made at run time. consteval refuses
/// anything else, and a pattern whose places do not match its values, as
/// std::format_string does.
template <size_t Places>
class Pattern {
 public:
  consteval Pattern(const char* text) : text_(text) {  // NOLINT: implicit by design
    if (count_places(text_) != Places) throw "the pattern's {} do not match its values";
  }
  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
};

class Markup;
class Value;
namespace detail {
Markup fill_values(std::string_view pattern, std::initializer_list<Value> values);
}

/// A piece of a page: safe to insert as it is.
class Markup {
 public:
  Markup() = default;
  /// The constant markup `pattern`.
  Markup(Pattern<0> pattern) : text_(pattern.text()) {}  // NOLINT: implicit by design
  const std::string& str() const { return text_; }
  Markup& operator+=(const Markup& more) {
    text_ += more.text_;
    return *this;
  }

 private:
  friend Markup detail::fill_values(std::string_view, std::initializer_list<Value>);
  explicit Markup(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

/// One value for fill(): Markup goes in as it is, text and numbers escaped.
class Value {
 public:
  Value(const Markup& markup) : text_(markup.str()) {}     // NOLINT: implicit by design
  Value(std::string_view text) : text_(escape(text)) {}    // NOLINT
  Value(const std::string& text) : text_(escape(text)) {}  // NOLINT
  Value(const char* text) : text_(escape(text)) {}         // NOLINT
  template <std::integral N>
  requires(!std::same_as<N, bool>) Value(N number) : text_(std::to_string(number)) {}  // NOLINT
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

/// `pattern` with its "{}" replaced by `values` in order: Markup as it is,
/// text and numbers escaped.
template <typename... Values>
Markup fill(std::type_identity_t<Pattern<sizeof...(Values)>> pattern, const Values&... values) {
  return detail::fill_values(pattern.text(), {Value(values)...});
}

}  // namespace ef::fleet::html
