// GRUB core images built with Debian's grub-mkimage (grub-efi-amd64-bin,
// grub-pc-bin): every module the boot chain uses is embedded, so the medium
// needs no GRUB module directory, and a small embedded config finds the
// medium and hands over to its grub.cfg.
#pragma once

#include <filesystem>
#include <string>

#include "util/error.hpp"

namespace ef::iso {

enum class GrubTarget {
  efi_x64,        // BOOTX64.EFI (x86_64-efi)
  bios_eltorito,  // El Torito no-emulation image for CDs (i386-pc-eltorito)
};

/// GRUB's platform directory (under /usr/lib/grub) for `target`.
std::string grub_platform(GrubTarget target);

/// Builds a GRUB image for `target` whose embedded config is `config`;
/// `work_dir` holds temporary files. Deterministic for the same inputs.
/// Errors: grub-mkimage or the platform's modules are missing (install
/// grub-efi-amd64-bin / grub-pc-bin), or grub-mkimage fails.
Result<std::string> make_grub_image(GrubTarget target, const std::string& config,
                                    const std::filesystem::path& work_dir);

/// GRUB's boot_hybrid.img (the isohybrid MBR code for BIOS USB boot).
Result<std::string> grub_hybrid_mbr();

}  // namespace ef::iso
