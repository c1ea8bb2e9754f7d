#include "builder/profile/schema_node.hpp"

#include <charconv>
#include <map>

namespace ef::profile::detail {
namespace {

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

bool contains(std::initializer_list<std::string_view> words, std::string_view w) {
  for (auto x : words) {
    if (x == w) return true;
  }
  return false;
}

}  // namespace

SchemaNode::SchemaNode(YAML::Node node, std::string file)
    : SchemaNode(node, std::move(file), "", node.Mark()) {}

SchemaNode::SchemaNode(YAML::Node node, std::string file, std::string path, YAML::Mark key_mark)
    : node_(node), file_(std::move(file)), path_(std::move(path)), key_mark_(key_mark) {}

SourceLoc SchemaNode::loc_of(const YAML::Mark& mark) const {
  if (mark.is_null()) return SourceLoc{file_, 0, 0};
  // yaml-cpp counts from 0; people and editors count from 1.
  return SourceLoc{file_, mark.line + 1, mark.column + 1};
}

SourceLoc SchemaNode::loc() const {
  return loc_of(is_null() ? key_mark_ : node_.Mark());
}

Error SchemaNode::error(const std::string& message, Errc code) const {
  std::string where = path_.empty() ? "" : path_ + ": ";
  return Error(code, loc().str() + ": " + where + message);
}

Error SchemaNode::expected(const std::string& what) const {
  return error("expected " + what + ", got " + describe());
}

std::string SchemaNode::describe() const {
  switch (node_.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar: {
      std::string text = node_.Scalar();
      if (text.size() > 40) text = text.substr(0, 37) + "...";
      return "a string \"" + text + "\"";
    }
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

Result<void> SchemaNode::expect_map(std::initializer_list<std::string_view> allowed) const {
  if (!node_.IsMap()) return expected("a mapping");
  const std::string in = path_.empty() ? "at the top level" : "in " + path_;
  // yaml-cpp 0.7 keeps both entries of a duplicated key and lookups see the
  // first one only, so a repeated key would be silently ignored.
  std::map<std::string, int> first_line;
  // yaml-cpp's iterators hand out temporaries: copy, never bind references.
  for (const auto entry : node_) {
    const YAML::Node key = entry.first;
    SourceLoc key_loc = loc_of(key.Mark());
    if (!key.IsScalar()) {
      return Error(Errc::invalid_profile, key_loc.str() + ": keys " + in + " must be strings");
    }
    const std::string& name = key.Scalar();
    if (!contains(allowed, name)) {
      return Error(Errc::invalid_profile, key_loc.str() + ": unknown key '" + name + "' " + in +
                                              " (expected one of: " + join(allowed) + ")");
    }
    auto [pos, inserted] = first_line.emplace(name, key_loc.line);
    if (!inserted) {
      return Error(Errc::invalid_profile, key_loc.str() + ": duplicate key '" + name + "' " + in +
                                              " (first at line " + std::to_string(pos->second) +
                                              ")");
    }
  }
  return Ok{};
}

std::optional<SchemaNode> SchemaNode::get(std::string_view key) const {
  for (const auto entry : node_) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) {
      std::string child = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
      return SchemaNode(entry.second, file_, std::move(child), entry.first.Mark());
    }
  }
  return std::nullopt;
}

Result<SchemaNode> SchemaNode::require(std::string_view key) const {
  if (auto child = get(key)) return *child;
  return error("missing required key '" + std::string(key) + "'");
}

Result<std::string> SchemaNode::one_of(std::initializer_list<std::string_view> kinds) const {
  std::optional<std::string> found;
  for (const auto entry : node_) {
    const YAML::Node key = entry.first;
    if (!key.IsScalar() || !contains(kinds, key.Scalar())) continue;
    if (found) {
      return Error(Errc::invalid_profile, loc_of(key.Mark()).str() + ": " + path_ +
                                              ": expected exactly one of " + join(kinds) +
                                              ", got both " + *found + " and " + key.Scalar());
    }
    found = key.Scalar();
  }
  if (!found) return error("expected exactly one of " + join(kinds) + ", got none");
  return *found;
}

Result<std::vector<SchemaNode>> SchemaNode::items() const {
  if (!node_.IsSequence()) return expected("a sequence");
  std::vector<SchemaNode> out;
  for (size_t i = 0; i < node_.size(); ++i) {
    YAML::Node item = node_[i];
    out.push_back(SchemaNode(item, file_, path_ + "[" + std::to_string(i) + "]", item.Mark()));
  }
  return out;
}

Result<std::string> SchemaNode::as_string() const {
  if (!node_.IsScalar()) return expected("a string");
  return node_.Scalar();
}

Result<std::vector<std::string>> SchemaNode::as_strings() const {
  EF_ASSIGN(auto list, items());
  std::vector<std::string> out;
  for (const auto& item : list) {
    EF_ASSIGN(auto s, item.as_string());
    out.push_back(std::move(s));
  }
  return out;
}

Result<int64_t> SchemaNode::as_int(int64_t min, int64_t max) const {
  // A quoted scalar is a string in YAML, even when it reads like a number.
  bool plain = node_.IsScalar() && node_.Tag() != "!";
  const std::string text = plain ? node_.Scalar() : "";
  // from_chars takes no '+'; skip one, but not in front of a '-'.
  bool skip_plus = text.size() > 1 && text[0] == '+' && text[1] != '-';
  const char* begin = text.data() + (skip_plus ? 1 : 0);
  const char* end = text.data() + text.size();
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (!plain || text.empty() || ptr != end || ec == std::errc::invalid_argument) {
    return expected("an integer");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    return error(text + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) +
                 ")");
  }
  return value;
}

Result<bool> SchemaNode::as_bool() const {
  // Only plain true/false: YAML 1.1's yes/no/on/off surprise people.
  bool plain = node_.IsScalar() && node_.Tag() != "!";
  if (plain && node_.Scalar() == "true") return true;
  if (plain && node_.Scalar() == "false") return false;
  return expected("true or false");
}

}  // namespace ef::profile::detail
