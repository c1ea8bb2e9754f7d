// The kernel-choice rule (image/boot_files) applied to a tree before it is
// written: the image's initramfs addition and the release's boot files see
// the same kernel the written image's readers (ISO, disk, agent) will.
#pragma once

#include <optional>

#include "builder/tree/tree.hpp"
#include "image/boot_files.hpp"

namespace ef::tree {

/// image::choose_boot_files over the entries of the tree's root and /boot;
/// nullopt without a kernel.
std::optional<image::BootFiles> choose_boot_files(const Tree& tree);

}  // namespace ef::tree
