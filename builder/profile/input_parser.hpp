// The inputs of a profile: spec.base and spec.layers, with paths resolved
// against the declaring file and local files checked. Internal to ef_profile.
#pragma once

#include <filesystem>

#include "builder/profile/profile.hpp"
#include "builder/profile/schema_node.hpp"
#include "util/error.hpp"

namespace ef::profile::detail {

/// Returns `dir / text`, lexically normal and without a trailing slash.
std::filesystem::path resolve_path(const std::filesystem::path& dir, const std::string& text);

/// Parses spec.base; `dir` is the declaring file's directory.
Result<Base> parse_base(const SchemaNode& node, const std::filesystem::path& dir);

/// Parses one entry of spec.layers.
Result<Layer> parse_layer(const SchemaNode& node, const std::filesystem::path& dir);

}  // namespace ef::profile::detail
