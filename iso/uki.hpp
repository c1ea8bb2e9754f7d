// Unified kernel images (UKI): systemd's EFI stub with the kernel, its
// initrd, command line and os-release added as PE sections, one EFI
// executable that Secure Boot firmware verifies as a whole once signed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::iso {

/// What goes into a unified kernel image.
struct UkiParts {
  std::filesystem::path stub;    // e.g. /usr/lib/systemd/boot/efi/linuxx64.efi.stub
  std::string os_release;        // .osrel; none when empty
  std::string cmdline;           // .cmdline, no trailing NUL needed; none when empty
  std::filesystem::path kernel;  // .linux
  // .initrd: concatenated in order, each starting at a 4-byte boundary (zero
  // padding, which the kernel skips); none when empty
  std::vector<std::filesystem::path> initrds;
};

/// Builds an unsigned UKI from `parts`: the stub with sections .osrel,
/// .cmdline, .linux and .initrd appended in that order (empty ones left
/// out, so the stub falls back to the boot loader's command line). Errors
/// name the file that failed.
Result<std::string> build_uki(const UkiParts& parts);

}  // namespace ef::iso
