#include "iso/secure_boot.hpp"

#include "device/boot_entries.hpp"
#include "iso/kernel_files.hpp"
#include "iso/uki.hpp"
#include "util/atomic_file.hpp"

namespace ef::iso {
namespace {

Result<std::string> read_host_file(const std::filesystem::path& path, const char* package) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Error(Errc::not_found, path.string() + " not found; install " + package +
                                      " (apt-get install " + package + ")");
  return read_file(path);
}

Result<std::filesystem::path> write_work_file(const std::filesystem::path& dir,
                                              const std::string& name, const std::string& bytes) {
  std::filesystem::path p = dir / name;
  EF_TRY(write_file_atomic(p, bytes));
  return p;
}

}  // namespace

std::string uki_cmdline(const SecureBootSpec& sb, const std::string& extra) {
  const SlotVerity& v = sb.verity;
  std::string line = "boot=edgeforge ro edgeforge.verity=" + v.root_hash_hex +
                     " edgeforge.verity.salt=" + (v.salt_hex.empty() ? "-" : v.salt_hex) +
                     " edgeforge.verity.blocks=" + std::to_string(v.data_blocks) +
                     " edgeforge.verity.offset=" + std::to_string(v.hash_offset) +
                     " edgeforge.persist=" + (sb.plain_without_tpm ? "tpm2-or-plain" : "tpm2");
  if (!extra.empty()) line += " " + extra;
  return line;
}

std::string loader_conf() {
  // timeout 0: straight to the default entry (a key held at boot still shows
  // the menu); the editor and the automatic entries (firmware setup, other
  // EFI programs) are off. Under Secure Boot an edited command line would be
  // ignored by the stub anyway.
  return "timeout 0\neditor no\nauto-entries no\nauto-firmware no\nconsole-mode keep\n";
}

Result<std::string> signed_kernel_image(const std::filesystem::path& squashfs,
                                        const SecureBootSpec& sb, const std::string& cmdline,
                                        const std::filesystem::path& work_dir) {
  EF_ASSIGN(auto kernel, read_kernel_files(squashfs, {}));
  if (kernel.image_cpio.empty())
    return Error(Errc::invalid_argument,
                 squashfs.string() + ": no " + std::string(kImageCpioPath) +
                     " in the image; spec.secureBoot needs the agent (spec.agent.enabled: true), "
                     "whose initramfs addition maps the slot through dm-verity");
  EF_TRY(read_host_file(sb.stub, "systemd-boot-efi"));
  EF_ASSIGN(auto vmlinuz, write_work_file(work_dir, "uki.vmlinuz", kernel.vmlinuz));
  EF_ASSIGN(auto initrd, write_work_file(work_dir, "uki.initrd", kernel.initrd));
  EF_ASSIGN(auto cpio, write_work_file(work_dir, "uki.cpio", kernel.image_cpio));
  UkiParts parts;
  parts.stub = sb.stub;
  parts.os_release = kernel.os_release;
  parts.cmdline = cmdline;
  parts.kernel = vmlinuz;
  parts.initrds = {initrd, cpio};
  auto uki = build_uki(parts);
  std::error_code ec;
  for (const auto& p : {vmlinuz, initrd, cpio}) std::filesystem::remove(p, ec);
  if (!uki) return std::move(uki).error().with_context("building the slot's kernel image");
  auto signed_uki = sb.sign(*uki);
  if (!signed_uki) return std::move(signed_uki).error().with_context("signing the kernel image");
  return std::move(*signed_uki);
}

Result<std::vector<FatFile>> secure_boot_esp_files(const std::filesystem::path& squashfs,
                                                   const SecureBootSpec& sb,
                                                   const std::string& extra_cmdline,
                                                   const std::filesystem::path& work_dir) {
  EF_ASSIGN(std::string boot, read_host_file(sb.systemd_boot, "systemd-boot-efi"));
  auto signed_boot = sb.sign(boot);
  if (!signed_boot)
    return std::move(signed_boot).error().with_context("signing " + sb.systemd_boot.string());
  std::string uki;
  if (!sb.kernel_image.empty()) {
    EF_ASSIGN(uki, read_file(sb.kernel_image));
  } else {
    EF_ASSIGN(uki, signed_kernel_image(squashfs, sb, uki_cmdline(sb, extra_cmdline), work_dir));
  }
  std::vector<FatFile> files;
  files.push_back({"/EFI/BOOT/BOOTX64.EFI", std::move(*signed_boot)});
  files.push_back({"/loader/loader.conf", loader_conf()});
  // Slot A confirmed and first (device/boot_entries.hpp).
  files.push_back({"/loader/entries/" + device::slot_entry_file("A", device::kArmedTries, true),
                   device::slot_entry_body("A", 1)});
  files.push_back({"/slot-a/edgeforge.efi", std::move(uki)});
  return files;
}

}  // namespace ef::iso
