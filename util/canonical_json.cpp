#include "util/canonical_json.hpp"

#include <set>
#include <vector>

namespace ef {
namespace {

using nlohmann::json;

Error invalid(const std::string& message) {
  return Error(Errc::invalid_argument, message);
}

/// A SAX pass that enforces the limits before any DOM is built, so a hostile
/// text can neither recurse deeply nor smuggle a second value for a key.
class StrictSax : public nlohmann::json_sax<json> {
 public:
  explicit StrictSax(const JsonLimits& limits) : limits_(limits) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t& text) override {
    return fail("number " + text + " at " + where() + " is not an integer");
  }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return fail("binary value at " + where()); }
  bool start_object(std::size_t) override { return open(true); }
  bool key(string_t& k) override {
    Frame& f = frames_.back();
    if (!f.keys.insert(k).second) {
      return fail("duplicate key \"" + k + "\" in " + where(/*innermost=*/false));
    }
    f.key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    std::string what = e.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 5: ...".
    if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    return fail("not valid JSON at byte " + std::to_string(position > 0 ? position - 1 : 0) + ": " +
                what);
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool object = false;
    std::set<std::string> keys;
    std::string key;
    size_t index = 0;
  };

  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  bool open(bool object) {
    if (frames_.size() + 1 > limits_.max_depth) {
      return fail("nested deeper than " + std::to_string(limits_.max_depth) + " levels at " +
                  where());
    }
    frames_.push_back(Frame{object, {}, {}, 0});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return value();
  }
  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }
  // The key path of the current position, e.g. "verity.salt" or "boot[1]";
  // without the innermost key or index: the path of the enclosing container.
  std::string where(bool innermost = true) const {
    std::string path;
    for (size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (!innermost && i + 1 == frames_.size()) break;
      if (f.object) {
        if (!f.key.empty()) path += (path.empty() ? "" : ".") + f.key;
      } else {
        path += "[" + std::to_string(f.index) + "]";
      }
    }
    return path.empty() ? "the top level" : "\"" + path + "\"";
  }

  JsonLimits limits_;
  std::vector<Frame> frames_;
  std::string error_;
};

size_t first_difference(std::string_view a, std::string_view b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

Result<nlohmann::json> parse_canonical_json(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return invalid("is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                   std::to_string(limits.max_bytes));
  }
  StrictSax sax(limits);
  if (!json::sax_parse(text, &sax, json::input_format_t::json, true) || !sax.error().empty()) {
    return invalid(sax.error().empty() ? std::string("not valid JSON") : sax.error());
  }
  // Depth is bounded now, so building the DOM cannot recurse without limit.
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) return invalid("not valid JSON");
  EF_ASSIGN(std::string canonical, canonical_json(value));
  if (canonical != text) {
    size_t at = first_difference(canonical, text);
    return invalid("not in canonical form (first difference at byte " + std::to_string(at) +
                   "; keys sorted, no whitespace, minimal escapes)");
  }
  return value;
}

Result<std::string> canonical_json(const nlohmann::json& value) {
  // Floats anywhere make the form ambiguous; refuse them rather than print one.
  std::vector<const json*> pending{&value};
  while (!pending.empty()) {
    const json* v = pending.back();
    pending.pop_back();
    if (v->is_number_float()) return invalid("canonical JSON holds integers only");
    if (v->is_structured()) {
      for (const auto& child : *v) pending.push_back(&child);
    }
  }
  try {
    return value.dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::exception& e) {
    return invalid(std::string("cannot be written as canonical JSON: ") + e.what());
  }
}

}  // namespace ef
