// A chunk store kept in an OCI registry instead of a directory
// (docs/updates.md): what `edgeforge publish --to oci://` writes and what
// devices and channel commands read. Its own target: it needs libcurl
// (ef_http), which the rest of signing/ does not.
#pragma once

#include <cstdint>
#include <string>

#include "util/error.hpp"
#include "util/oci_registry.hpp"

namespace ef::signing {

/// Every chunk a blob of its own bytes (digest = the chunk's sha256), the
/// head a blob, and an OCI image manifest of artifact type kOciArtifactType
/// whose first layer is the head and whose other layers are the chunks (so
/// the registry keeps them), tagged with the release's version.
inline constexpr const char* kOciArtifactType = "application/vnd.edgeforge.bundle.v1";
inline constexpr const char* kOciHeadMediaType = "application/vnd.edgeforge.bundle-head.v1";
inline constexpr const char* kOciChunkMediaType = "application/vnd.edgeforge.chunk.v1";
inline constexpr const char* kOciManifestMediaType = "application/vnd.oci.image.manifest.v1+json";

/// The bundle head tagged `tag` in `registry`'s repository: the manifest,
/// then the head blob it names (at most `max_bytes`, checked against its
/// digest). Errc::not_found for a missing tag, Errc::bad_bundle for a
/// manifest that names no head.
Result<std::string> fetch_oci_head(OciRegistry& registry, const std::string& tag,
                                   uint64_t max_bytes);

}  // namespace ef::signing
