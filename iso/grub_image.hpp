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
  bios_disk,      // core image for a hard disk's bios_grub partition (i386-pc)
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

/// GRUB for booting a GPT disk with BIOS firmware, as grub-bios-setup lays
/// it out: `mbr_code` (boot.img's first 440 bytes: the disk signature and
/// partition table stay as they are) goes to sector 0, `core` (the i386-pc
/// core image, which starts with diskboot.img, with `config` embedded,
/// padded to whole sectors) to the bios_grub partition at sector `core_lba`.
struct BiosBootCode {
  std::string mbr_code;
  std::string core;
};

/// Builds and patches the BIOS boot code. Errors: grub-pc-bin missing, a core
/// image larger than `max_core_bytes`.
Result<BiosBootCode> make_bios_boot(const std::string& config, uint64_t core_lba, uint64_t max_core_bytes,
                                    const std::filesystem::path& work_dir);

}  // namespace ef::iso
