// Reading bundles for the command line: `inspect BUNDLE`, and the manifest
// as JSON that bundle, verify and inspect print.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "signing/bundle.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"

namespace ef::cli {

/// True when `path` starts with the bundle magic.
bool is_bundle_file(const std::string& path);

/// The manifest `m` as the JSON object the commands print.
nlohmann::json manifest_json(const signing::BundleManifest& m);

/// `edgeforge inspect BUNDLE [--keyring DIR]`: header, manifest and each
/// signature with the keyring key that matches it (and whether it verifies).
Result<void> inspect_bundle(const std::string& path, const std::string& keyring, bool json,
                            std::ostream& out);

/// `edgeforge inspect BUNDLE --sbom|--provenance [--keyring DIR]`: the
/// attachment with `role`, byte for byte, after checking it against the
/// manifest (and, with a keyring, the manifest's signature first).
Result<void> inspect_attachment(const std::string& path, const std::string& role,
                                const std::string& keyring, std::ostream& out);

}  // namespace ef::cli
