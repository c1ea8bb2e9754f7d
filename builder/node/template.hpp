// Mustache templates ({{name}}, {{#list}}...{{/list}}, {{^flag}}) rendered
// with JSON values. Logic-less on purpose: a pack's manifests cannot run
// code, read files or depend on the time, so rendering is safe and
// deterministic. Backed by kainjow/mustache (libkainjow-mustache-dev).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace ef::node {

/// Renders `text` with `values` (objects, arrays, scalars). Values are
/// inserted verbatim (no HTML escaping). A syntax error names `label`.
/// A name with no value renders as nothing; `{{name.json}}` of an object
/// renders it as compact JSON (valid YAML flow style).
Result<std::string> render_template(const std::string& text, const nlohmann::json& values,
                                    const std::string& label);

}  // namespace ef::node
