// The slot's signed kernel image on Secure Boot devices (docs/verified-boot.md):
// the bundle carries it after its payload as the "kernel-image" attachment,
// signed by the operator's db key and holding the image's dm-verity root
// hash in its command line; the agent puts it on the ESP as
// /slot-X/edgeforge.efi, which the slot's boot entry starts.
#pragma once

#include <filesystem>
#include <string>

#include "signing/bundle_format.hpp"
#include "util/error.hpp"
#include "util/http_stream.hpp"

namespace ef::agent {

/// The attachment role of a slot's signed kernel image.
inline constexpr const char* kKernelImageRole = "kernel-image";

/// Reads the kernel image `manifest` lists from the bundle at `bundle` (a
/// path or an http(s) URL), checks it against the manifest's sha256 and that
/// its command line (.cmdline) carries the manifest's verity root hash, and
/// writes it to `dir`/edgeforge.efi (the directory is emptied first: the slot
/// is out of the boot order while this runs). Errors: no such attachment, a
/// mismatch (bundle altered, or a kernel image of another image).
Result<void> install_kernel_image(const std::string& bundle, const HttpStreamOptions& http,
                                  const signing::BundleManifest& manifest,
                                  const std::filesystem::path& dir);

}  // namespace ef::agent
