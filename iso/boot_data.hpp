// Boot-chain scripts kept as readable files under iso/data/ and compiled into
// the binary (so an installed edgeforge needs no data directory).
#pragma once

#include <string_view>

namespace ef::iso {

/// iso/data/grub-ab.cfg: the device's A/B GRUB script, with @EF_CMDLINE@ and
/// @EF_TIMEOUT@ placeholders.
std::string_view grub_ab_template();

/// iso/data/initramfs-edgeforge.sh: initramfs-tools' /scripts/edgeforge.
std::string_view initramfs_script();

/// iso/data/grub-iso.cfg: the installer ISO's menu, with @EF_LABEL@,
/// @EF_CMDLINE@ and @EF_TIMEOUT@ placeholders.
std::string_view grub_iso_template();

}  // namespace ef::iso
