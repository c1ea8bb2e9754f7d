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
  std::vector<std::string> argv = {
      "grub-mkimage",
      "-O",
      target == GrubTarget::efi_x64 ? "x86_64-efi" : "i386-pc-eltorito",
      "-d",
      mods.string(),
      "-c",
      cfg.string(),
      "-p",
      "/grub",
      "-o",
      out.string()};
  argv.insert(argv.end(), kCommonModules.begin(), kCommonModules.end());
  if (target == GrubTarget::efi_x64) {
    argv.insert(argv.end(), {"efi_gop", "efi_uga"});
  } else {
    argv.insert(argv.end(), {"biosdisk", "vga", "vbe"});
  }
  ProcessOptions opts;
  opts.apt_package = "grub-common";
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return read_file(out);
}

Result<std::string> grub_hybrid_mbr() {
  auto mbr = read_file(kGrubLib / "i386-pc" / "boot_hybrid.img");
  if (!mbr) return std::move(mbr).error().with_context("GRUB hybrid MBR (install grub-pc-bin)");
  return mbr;
}

}  // namespace ef::iso
