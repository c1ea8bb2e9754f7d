// binutils as the outside oracle for PE/COFF files (EFI programs, unified
// kernel images): what objdump lists and what objcopy extracts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ef::test {

/// systemd's UKI stub (Debian's systemd-boot-efi): a real PE32+ to work on.
inline constexpr const char* kSystemdStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

/// `path` single-quoted for /bin/sh (test paths hold no quotes).
std::string shell_quote(const std::filesystem::path& path);

/// One line of `objdump -h`.
struct ObjdumpSection {
  std::string name;
  uint64_t size = 0, vma = 0, file_offset = 0;
};

/// The sections `objdump -h` lists for `file`, in order (a failed objdump
/// fails the calling test).
std::vector<ObjdumpSection> objdump_sections(const std::filesystem::path& file);

/// Section `name` of `file` as `objcopy -O binary --only-section` extracts
/// it, through a file in `work_dir`.
std::string objcopy_section(const std::filesystem::path& file, const std::string& name,
                            const std::filesystem::path& work_dir);

}  // namespace ef::test
