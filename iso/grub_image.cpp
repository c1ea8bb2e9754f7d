#include "iso/grub_image.hpp"

#include <vector>

#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::iso {
namespace {

const std::filesystem::path kGrubLib = "/usr/lib/grub";

// Modules for both platforms: partition tables, filesystems, the commands
// the A/B and ISO scripts use.
const std::vector<std::string> kCommonModules = {
    "part_gpt",
    "part_msdos",
    "fat",
    "iso9660",
    "ext2",
    "squash4",
    "normal",
    "configfile",
    "linux",
    "echo",
    "test",
    "search",
    "search_fs_uuid",
    "search_label",
    "search_fs_file",
    "loadenv",
    "sleep",
    "serial",
    "terminal",
    "reboot",
    "halt",
    "ls",
    "cat",
    "gzio",
    "xzio",
    "all_video",
    "true",
    "font",
    "gfxterm",
};

}  // namespace

std::string grub_platform(GrubTarget target) {
  return target == GrubTarget::efi_x64 ? "x86_64-efi" : "i386-pc";
}

Result<std::string> make_grub_image(GrubTarget target, const std::string& config,
                                    const std::filesystem::path& work_dir) {
  std::string platform = grub_platform(target);
  std::filesystem::path mods = kGrubLib / platform;
  if (!std::filesystem::exists(mods / "normal.mod"))
    return Error(Errc::not_found,
                 mods.string() + ": GRUB modules missing; install " +
                     (target == GrubTarget::efi_x64 ? "grub-efi-amd64-bin" : "grub-pc-bin"));
  std::filesystem::path cfg = work_dir / ("grub-embedded-" + platform + ".cfg");
  std::filesystem::path out = work_dir / ("grub-" + platform + ".img");
  EF_TRY(write_file_atomic(cfg, config));
  std::vector<std::string> argv = {"grub-mkimage",
                                   "-O",
                                   target == GrubTarget::efi_x64     ? "x86_64-efi"
                                   : target == GrubTarget::bios_disk ? "i386-pc"
                                                                     : "i386-pc-eltorito",
                                   "-d",
                                   mods.string(),
                                   "-c",
                                   cfg.string(),
                                   "-p",
                                   "/grub",
                                   "-o",
                                   out.string()};
  argv.insert(argv.end(), kCommonModules.begin(), kCommonModules.end());
  if (target == GrubTarget::bios_disk) {
    argv.insert(argv.end(), {"biosdisk", "vga", "vbe"});
  } else if (target == GrubTarget::efi_x64) {
    argv.insert(argv.end(), {"efi_gop", "efi_uga"});
  } else {
    argv.insert(argv.end(), {"biosdisk", "vga", "vbe"});
  }
  ProcessOptions opts;
  opts.apt_package = "grub-common";
  opts.capture_stdout = true;  // never on our stdout, which may carry `build --json`
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return read_file(out);
}

Result<BiosBootCode> make_bios_boot(const std::string& config, uint64_t core_lba,
                                    uint64_t max_core_bytes,
                                    const std::filesystem::path& work_dir) {
  constexpr size_t kSector = 512;
  EF_ASSIGN(std::string core, make_grub_image(GrubTarget::bios_disk, config, work_dir));
  auto boot = read_file(kGrubLib / "i386-pc" / "boot.img");
  if (!boot) return std::move(boot).error().with_context("GRUB boot.img (install grub-pc-bin)");
  if (boot->size() != kSector) return Error(Errc::image, "GRUB boot.img is not one sector");
  core.resize((core.size() + kSector - 1) / kSector * kSector, '\0');
  if (core.size() > max_core_bytes)
    return Error(Errc::image, "GRUB's BIOS core image (" + std::to_string(core.size()) +
                                  " bytes) does not fit the bios_grub partition");
  auto put = [](std::string& s, size_t at, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      s[at + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  // boot.img: the LBA of diskboot (kernel_sector, 0x5c); the floppy drive
  // check (0x66) becomes two NOPs, as grub-bios-setup does for hard disks.
  std::string mbr = *boot;
  put(mbr, 0x5c, core_lba, 8);
  mbr[0x66] = static_cast<char>(0x90);
  mbr[0x67] = static_cast<char>(0x90);
  // The core's first sector is diskboot.img; its block list (the sector's
  // last 12 bytes) says where the rest is: start LBA and sectors (the load
  // segment stays 0x820).
  put(core, kSector - 12, core_lba + 1, 8);
  put(core, kSector - 4, core.size() / kSector - 1, 2);
  return BiosBootCode{mbr.substr(0, 440), std::move(core)};
}

Result<std::string> grub_hybrid_mbr() {
  auto mbr = read_file(kGrubLib / "i386-pc" / "boot_hybrid.img");
  if (!mbr) return std::move(mbr).error().with_context("GRUB hybrid MBR (install grub-pc-bin)");
  return mbr;
}

}  // namespace ef::iso
