// Which kernel and initrd of an image boot: the one rule that the bundle
// manifest, the installer ISO, the raw disk's ESP and the image's own
// initramfs addition all follow, so a device boots the kernel its bundle
// records.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/squashfs_reader.hpp"
#include "util/error.hpp"

namespace ef::image {

/// Compares two Debian package versions as `dpkg --compare-versions` does
/// ([epoch:]upstream[-revision]; `~` sorts before anything, even the end;
/// digit runs compare as numbers). Returns <0, 0 or >0 as `a` is lower than,
/// equal to or higher than `b`.
int compare_debian_versions(std::string_view a, std::string_view b);

/// The kernel and initrd that boot, as paths inside the image.
struct BootFiles {
  std::string kernel;   // "/boot/vmlinuz-6.1.0-10-amd64"
  std::string initrd;   // "/boot/initrd.img-6.1.0-10-amd64"; empty when the image has none
  std::string version;  // "6.1.0-10-amd64"; empty when the kernel's name carries none
};

/// Chooses the boot files among `entries` (at least "/vmlinuz",
/// "/initrd.img" and the entries of /boot, as the reader lists them):
/// the regular file the /vmlinuz link leads to; without one, the
/// /boot/vmlinuz-VERSION with the highest VERSION in Debian version order.
/// The initrd is /boot/initrd.img-VERSION of that kernel (/initrd.img when
/// the kernel's name carries no version). Returns nullopt when the image
/// has no kernel.
std::optional<BootFiles> choose_boot_files(const std::vector<ImageEntry>& entries);

/// choose_boot_files over the image `reader` reads, listing only its root,
/// /boot and the directories the /vmlinuz and /initrd.img links lead to
/// (walking a whole image costs more than reading the kernel).
/// Errors: the image cannot be read.
Result<std::optional<BootFiles>> find_boot_files(ImageReader& reader);

}  // namespace ef::image
