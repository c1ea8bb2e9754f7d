#include "builder/node/template.hpp"

// GCC 12 reports a false "potential null pointer dereference" inside the
// library's std::vector use when inlined here; the warning is off for this
// file only.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <kainjow/mustache.hpp>

namespace ef::node {

namespace {

using kainjow::mustache::data;

// Values come from YAML checked for UTF-8; should a bad byte get through
// anyway, it is written as U+FFFD instead of throwing.
std::string dump(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

data to_data(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      data d{data::type::object};
      for (const auto& [k, child] : v.items()) d.set(k, to_data(child));
      // "{{.}}" inside a section over an object is not defined by mustache;
      // expose the whole object as JSON under "json" for embedding.
      d.set("json", dump(v));
      return d;
    }
    case nlohmann::json::value_t::array: {
      data d{data::type::list};
      for (const auto& child : v) d.push_back(to_data(child));
      return d;
    }
    case nlohmann::json::value_t::string:
      return data{v.get<std::string>()};
    case nlohmann::json::value_t::boolean:
      return v.get<bool>() ? data{data::type::bool_true} : data{data::type::bool_false};
    case nlohmann::json::value_t::null:
      return data{data::type::bool_false};
    default:
      return data{dump(v)};  // numbers as JSON writes them
  }
}

}  // namespace

Result<std::string> render_template(const std::string& text, const nlohmann::json& values,
                                    const std::string& label) {
  kainjow::mustache::mustache tmpl{text};
  if (!tmpl.is_valid())
    return Error(Errc::invalid_profile, label + ": template error: " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(to_data(values));
  if (!tmpl.is_valid())
    return Error(Errc::invalid_profile, label + ": template error: " + tmpl.error_message());
  return out;
}

}  // namespace ef::node
