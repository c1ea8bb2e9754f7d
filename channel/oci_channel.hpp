// A release channel kept in an OCI registry instead of a directory: the
// channel file is a blob, and an OCI image manifest of artifact type
// kOciChannelArtifactType whose one layer is that blob is tagged with the
// channel's name (oci://HOST/REPO:stable). The bundles it releases are the
// heads `edgeforge publish --to oci://HOST/REPO` tagged in the same
// repository, named in the channel by their tag. docs/channels.md.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/oci_registry.hpp"

namespace ef::channel {

inline constexpr const char* kOciChannelArtifactType = "application/vnd.edgeforge.channel.v1";
inline constexpr const char* kOciChannelMediaType = "application/vnd.edgeforge.channel.v1+json";
inline constexpr const char* kOciImageManifestType = "application/vnd.oci.image.manifest.v1+json";

/// The manifest that stores the channel file `file_bytes` (canonical JSON,
/// so the same file always gives the same manifest digest).
std::string oci_channel_manifest(std::string_view file_bytes);

/// One read of a channel tag.
struct OciChannelRead {
  bool not_modified = false;  // the tag still names the manifest `if_none_match` named
  std::string bytes;          // the channel file, when modified
  std::string etag;           // send it as `if_none_match` next time
};

/// Reads channel `name` (the tag) from the reference's repository: one
/// conditional manifest request, then the file's blob when it changed (at
/// most kMaxChannelBytes, checked against its digest). A repository
/// without the tag is Errc::not_found; a manifest that is not a channel's
/// is Errc::bad_channel.
Result<OciChannelRead> read_oci_channel(OciRegistry& registry, const std::string& name,
                                        const std::string& if_none_match = "");

/// Stores `file_bytes` as channel `name`: the blob, the empty config, then
/// the manifest (the one step that makes it visible).
Result<void> write_oci_channel(OciRegistry& registry, const std::string& name,
                               std::string_view file_bytes);

}  // namespace ef::channel
