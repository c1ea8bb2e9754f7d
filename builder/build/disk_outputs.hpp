// The disk images and installer ISO `build` derives from the squashfs (spec.output.formats).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/build/release.hpp"
#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::build {

struct DiskOutputs {
  std::vector<std::filesystem::path> files;
  nlohmann::json record;      // the manifest's "disk" object; null when none was written
  nlohmann::json iso_record;  // the manifest's "iso" object; null when none was written
  /// spec.secureBoot: the manifest's "kernelImage" object, for the signed
  /// kernel image written beside the image (<stem>.efi, also in `files`),
  /// which bundles carry as their "kernel-image" attachment; else null.
  nlohmann::json kernel_image_record;
};

/// The media type of a signed unified kernel image (an EFI program).
inline constexpr const char* kKernelImageMediaType = "application/efi";

/// The paths bind-mounted from the persistent partition: the built-in list
/// (docs/disk-layout.md) and then spec.output.persistentPaths.
std::vector<std::string> persistent_paths_of(const profile::Profile& profile);

/// Writes <image stem>.raw, .qcow2 and/or .iso next to `image` when `formats`
/// asks for them (the A/B layout of docs/disk-layout.md, sizes from the profile;
/// the release's name, versions, epoch and image digest).
/// `formats_origin` says where the formats came from ("--format " or
/// "profile.yaml:LINE:COL: spec.output.formats: "); errors about a format
/// start with it and the format ("--format iso: ..."). `stage` reports progress. Errors: an
/// unknown format, a slot too small, a tool that failed.
Result<DiskOutputs> write_disk_outputs(const profile::Profile& profile, const Release& release,
                                       const std::filesystem::path& image,
                                       const std::vector<std::string>& formats,
                                       const std::string& formats_origin,
                                       const std::function<void(const std::string&)>& stage);

}  // namespace ef::build
