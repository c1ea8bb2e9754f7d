// Signed bundles of built images. `build --sign-key` hands its Release and
// keys to write_bundle; `edgeforge bundle` (make_bundle) first makes the
// Release from the build manifest beside the image (name, version,
// compatible, floor) and the image itself (kernel, initrd).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/build/release.hpp"
#include "signing/bundle.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::build {

/// The kernel and initrd of the image at `image`, chosen by the rule every
/// boot medium follows (image::find_boot_files), with their sizes and
/// sha256. An image without a kernel has none (empty list).
Result<std::vector<signing::BootFile>> find_boot_files(const std::filesystem::path& image);

struct BundleRequest {
  std::filesystem::path image;
  std::filesystem::path out;  // empty: the image path with .efb
  /// The build manifest written beside the image; empty: derived from the
  /// image name (NAME-VERSION.squashfs -> NAME-VERSION.manifest.json) when
  /// that file exists.
  std::filesystem::path build_manifest;
  // Overrides; empty/unset: from the build manifest.
  std::string product, compatible, version, min_version;
  std::vector<std::string> keys;  // PEM files or provider URIs (pkcs11:...)
  signing::Passphrase passphrase;
};

struct BundleResult {
  std::filesystem::path bundle;
  signing::BundleManifest manifest;
};

/// Writes the bundle of `release` whose image is `image` to `out`, signed
/// with every key of `keys`. Returns its manifest.
/// The provenance statement's media type (in-toto's).
inline constexpr const char* kProvenanceMediaType = "application/vnd.in-toto+json";

Result<signing::BundleManifest> write_bundle(
    const Release& release, const std::filesystem::path& image, const SigningKeys& keys,
    const std::filesystem::path& out, const std::vector<signing::AttachmentFile>& attachments = {});

/// Makes the bundle `request` describes. Missing facts (no build manifest
/// and no --version) are Errc::invalid_argument saying which option to give.
Result<BundleResult> make_bundle(const BundleRequest& request);

}  // namespace ef::build
