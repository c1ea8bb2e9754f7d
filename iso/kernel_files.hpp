// The kernel, initrd and extra modules a boot medium needs, read out of a
// built squashfs image (so the boot chain always matches the image's kernel).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::iso {

struct KernelModule {
  std::string file;     // file name in the extra cpio, e.g. "squashfs.ko"
  std::string content;  // the module as stored in the image (.ko, .ko.xz, ...)
};

struct KernelFiles {
  std::string version;  // "6.1.0-56-amd64"
  std::string vmlinuz;
  std::string initrd;
  /// Requested modules and their dependencies, dependencies first.
  std::vector<KernelModule> modules;
  /// The image's own initramfs addition (kImageCpioPath, put there by the
  /// builder's agent layer); empty when the image has none. Boot media use
  /// it instead of building one, so they boot what the agent installs.
  std::string image_cpio;
  /// The image's os-release (/usr/lib/os-release, else /etc/os-release);
  /// empty when it has none. A unified kernel image carries it as .osrel.
  std::string os_release;
};

/// Where an image carries its initramfs addition.
inline constexpr const char* kImageCpioPath = "/usr/lib/edgeforge/boot/edgeforge.cpio";

/// Modules the boot chain needs that Debian's stock initrd lacks.
std::vector<std::string> default_boot_modules();

/// Reads the kernel and initrd that boot (image::find_boot_files: the
/// /vmlinuz link's target, else the highest /boot/vmlinuz-<ver> in Debian
/// version order, with /boot/initrd.img-<ver>) and the modules named in
/// `modules` (with their dependencies from modules.dep) out of the squashfs
/// image at `image`.
/// Errors: no kernel or initrd in the image (add linux-image-* and an
/// initramfs generator to the profile), a module missing from modules.dep.
Result<KernelFiles> read_kernel_files(const std::filesystem::path& image,
                                      const std::vector<std::string>& modules);

/// Orders `wanted` module names and their dependencies from modules.dep text
/// (dependencies first). Returns paths relative to the module directory.
/// Errors: a name modules.dep does not list.
Result<std::vector<std::string>> resolve_modules(const std::string& modules_dep,
                                                 const std::vector<std::string>& wanted);

}  // namespace ef::iso
