// edgeforge-fleet's configuration file (docs/fleet-api.md): the operators'
// tokens (their sha256, never the tokens) and the request limits.
#pragma once

#include <filesystem>
#include <string>

#include "fleet/api.hpp"
#include "util/error.hpp"

namespace ef::fleet {

/// Parses the YAML at `path`:
///   operators: [{name: ops, tokenSha256: <64 hex>}]   # at least one
///   maxBodyBytes: 65536                               # optional
/// Unknown keys and malformed values are Errc::invalid_argument naming
/// FILE:LINE and the key.
Result<ApiConfig> load_config(const std::filesystem::path& path);

}  // namespace ef::fleet
