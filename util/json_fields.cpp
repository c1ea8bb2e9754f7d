#include "util/json_fields.hpp"

namespace ef {

using nlohmann::json;

Result<std::string> JsonFields::string(const char* key, size_t max_bytes) {
  EF_ASSIGN(const json* v, take(key));
  if (!v->is_string()) return type_error(key, "a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.empty() || s.size() > max_bytes) {
    return bad(name(key) + " must be 1 to " + std::to_string(max_bytes) + " bytes long");
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return bad(name(key) + " holds a control character");
  }
  return s;
}

Result<uint64_t> JsonFields::uint(const char* key) {
  EF_ASSIGN(const json* v, take(key));
  if (!v->is_number_unsigned()) return type_error(key, "an unsigned integer");
  return v->get<uint64_t>();
}

Result<uint32_t> JsonFields::uint32(const char* key) {
  EF_ASSIGN(uint64_t v, uint(key));
  if (v > UINT32_MAX) return bad(name(key) + " is out of range");
  return static_cast<uint32_t>(v);
}

Result<bool> JsonFields::boolean(const char* key) {
  EF_ASSIGN(const json* v, take(key));
  if (!v->is_boolean()) return type_error(key, "true or false");
  return v->get<bool>();
}

Result<std::string> JsonFields::hex(const char* key, size_t min_digits, size_t max_digits) {
  EF_ASSIGN(std::string s, string(key, max_digits));
  bool ok = s.size() >= min_digits && s.size() % 2 == 0;
  for (char c : s) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok) {
    return bad(name(key) + " must be " +
               (min_digits == max_digits ? std::to_string(max_digits) : "an even number of") +
               " lower-case hex digits");
  }
  return s;
}

Result<SemVer> JsonFields::version(const char* key, size_t max_bytes) {
  EF_ASSIGN(std::string s, string(key, max_bytes));
  auto v = SemVer::parse(s);
  if (!v) return bad(name(key) + ": " + v.error().message());
  return v;
}

Result<const json*> JsonFields::object(const char* key) {
  EF_ASSIGN(const json* v, take(key));
  if (!v->is_object()) return type_error(key, "an object");
  return v;
}

Result<const json*> JsonFields::array(const char* key) {
  EF_ASSIGN(const json* v, take(key));
  if (!v->is_array()) return type_error(key, "an array");
  return v;
}

Result<void> JsonFields::finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (!taken_.count(it.key())) {
      std::string message = "unknown key \"" + path_ + it.key() + "\"";
      if (!hint_.empty()) message += " (" + hint_ + ")";
      return bad(message);
    }
  }
  return Ok{};
}

Result<const json*> JsonFields::take(const char* key) {
  auto it = object_.find(key);
  if (it == object_.end()) return bad("missing key " + name(key));
  taken_.insert(key);
  return &*it;
}

}  // namespace ef
