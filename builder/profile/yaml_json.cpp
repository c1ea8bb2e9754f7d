#include "builder/profile/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <regex>

#include "util/utf8.hpp"

namespace ef::profile {

namespace {

nlohmann::json plain_scalar(const std::string& s) {
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex float_re("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, int_re)) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return v;
  }
  if (std::regex_match(s, float_re)) return std::strtod(s.c_str(), nullptr);
  return s;
}

// YAML needs quotes when a plain scalar would read back as another type or
// contains indicator characters; JSON string quoting is valid YAML.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (!plain_scalar(s).is_string()) return true;
  if (s.find_first_of(":#{}[],&*!|>'\"%@`\n\t\\") != std::string::npos) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '-' || s.front() == '?') return true;
  return s == "yes" || s == "no" || s == "on" || s == "off" || s == "y" || s == "n";
}

std::string scalar_text(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return needs_quotes(s) ? v.dump() : s;
  }
  return v.dump();
}

void emit(const nlohmann::json& v, int indent, std::string& out);

void emit_item(const nlohmann::json& v, int indent, std::string& out) {
  bool nested = (v.is_object() && !v.empty()) || (v.is_array() && !v.empty());
  if (!nested) {
    out += " " + (v.is_object() ? std::string("{}") : v.is_array() ? "[]" : scalar_text(v)) + "\n";
    return;
  }
  out += "\n";
  emit(v, indent + 2, out);
}

void emit(const nlohmann::json& v, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) {  // nlohmann objects are key-sorted
      out += pad + scalar_text(k) + ":";
      emit_item(child, indent, out);
    }
  } else if (v.is_array()) {
    for (const auto& child : v) {
      out += pad + "-";
      emit_item(child, indent, out);
    }
  } else {
    out += pad + scalar_text(v) + "\n";
  }
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.Scalar()] = yaml_to_json(kv.second);
      return obj;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(yaml_to_json(item));
      return arr;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!"; plain ones "?".
      if (node.Tag() == "!") return node.Scalar();
      return plain_scalar(node.Scalar());
    default:
      return nullptr;
  }
}

Result<nlohmann::json> parse_yaml_text(const std::string& text, const std::string& label) {
  // YAML is UTF-8 here; other bytes would reach the JSON writers (manifest,
  // SBOM, templates), which refuse them.
  if (auto bad = not_utf8(text)) return Error(Errc::invalid_profile, label + ":" + *bad);
  try {
    return yaml_to_json(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? label
                                         : label + ":" + std::to_string(e.mark.line + 1) + ":" +
                                               std::to_string(e.mark.column + 1);
    return Error(Errc::invalid_profile, where + ": YAML syntax error: " + e.msg);
  }
}

std::string json_to_yaml(const nlohmann::json& value) {
  std::string out;
  if ((value.is_object() || value.is_array()) && value.empty())
    return value.is_object() ? "{}\n" : "[]\n";
  emit(value, 0, out);
  return out;
}

}  // namespace ef::profile
