// The image's initramfs addition (iso/initramfs.hpp) built from the composed
// tree, before the squashfs is written, so the image can carry it at
// /usr/lib/edgeforge/boot/edgeforge.cpio and the agent can install it with
// the kernel on upgrade. The ESP and the installer ISO take these bytes
// from the image (iso/kernel_files.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::agent_layer {

/// Modules the addition carries: what disks need (squashfs, overlay) and
/// what the installer ISO's live boot needs besides (isofs), so one archive
/// serves both.
std::vector<std::string> image_boot_modules();

/// The VERSION of the /boot/vmlinuz-VERSION that `tree` boots (the rule of
/// image::choose_boot_files), or nullopt without a kernel.
std::optional<std::string> tree_kernel_version(const tree::Tree& tree);

/// Modules verified boot adds when the kernel has them as modules (a
/// kernel with them built in needs none): dm-verity, efivarfs, and dm-crypt
/// with its cipher for the persistent partition.
std::vector<std::string> verified_boot_modules();

/// What the initramfs runs from the verified root (chrooted) to seal the
/// persistent partition to the TPM at first boot and unlock it at every
/// boot, as paths in a merged-/usr image.
std::vector<std::string> verified_boot_tools();

/// Errors: `tree` lacks one of verified_boot_tools() (names it and the
/// packages to add).
Result<void> check_verified_boot_tools(const tree::Tree& tree);

/// Builds the addition from the kernel modules in `tree`; nullopt when the
/// tree has no kernel. `verity_open`: the static edgeforge-verity-open
/// program for verified boot (then the dm-verity and efivarfs modules come
/// too), or empty. Errors: no modules.dep for the kernel, a boot module it
/// does not list.
Result<std::optional<std::string>> build_image_initramfs(
    const tree::Tree& tree, const std::vector<std::string>& persistent_paths, int64_t epoch,
    const std::string& verity_open = "");

}  // namespace ef::agent_layer
