// Container image archives in packs' images/: docker-save or OCI archives.
// Checked at build time because a broken archive would only fail on the
// device, offline, when k3s or containerd tries to import it.
#pragma once

#include <filesystem>
#include <string>

#include "util/error.hpp"

namespace ef::packs {

/// Checks that `archive` is an image archive (manifest.json or index.json)
/// and, for content-addressed blobs (blobs/sha256/<hex>, as OCI archives
/// and newer docker-save archives hold them), that every blob's sha256 is
/// its name and that every descriptor index.json and its manifests name is
/// present with the size it declares. `label` ("images/app.tar") starts
/// each message; a mismatch is Errc::checksum naming the blob and both
/// digests.
Result<void> verify_image_archive(const std::filesystem::path& archive, const std::string& label);

}  // namespace ef::packs
