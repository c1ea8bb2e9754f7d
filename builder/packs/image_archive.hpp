// Container image archives in packs' images/: docker-save or OCI archives.
// Checked at build time because a broken archive would only fail on the
// device, offline, when k3s or containerd tries to import it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::packs {

/// One image an archive holds: its reference as the archive names it (the
/// OCI `org.opencontainers.image.ref.name` / `io.containerd.image.name`
/// annotation, or a docker-save RepoTag; empty when unnamed) and its digest
/// ("sha256:…": the manifest's for OCI archives, the config's — the image
/// ID — for docker-save archives, which keep no manifest digest).
struct ArchivedImage {
  std::string name;
  std::string digest;
};

/// Checks that `archive` is an image archive (manifest.json or index.json)
/// and, for content-addressed blobs (blobs/sha256/<hex>, as OCI archives
/// and newer docker-save archives hold them), that every blob's sha256 is
/// its name and that every descriptor index.json and its manifests name is
/// present with the size it declares. `label` ("images/app.tar") starts
/// each message; a mismatch is Errc::checksum naming the blob and both
/// digests. Returns the images it holds, in the archive's order.
Result<std::vector<ArchivedImage>> verify_image_archive(const std::filesystem::path& archive,
                                                        const std::string& label);

}  // namespace ef::packs
