// Converts YAML to JSON values with YAML 1.2 core-schema typing, so config
// and pack values keep their types (true, 3, 1.5, null) when rendered.
// Public so packs and site configuration parse their files the same way.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace YAML {
class Node;
}

namespace ef::profile {

/// The JSON value of a YAML node. Quoted scalars stay strings; plain ones
/// become null, booleans, integers or floats when they read as such.
nlohmann::json yaml_to_json(const YAML::Node& node);

/// Parses YAML text (one document) into JSON; errors name `label` and the
/// line:column.
Result<nlohmann::json> parse_yaml_text(const std::string& text, const std::string& label);

/// Writes JSON as block-style YAML with sorted keys (deterministic).
std::string json_to_yaml(const nlohmann::json& value);

}  // namespace ef::profile
