#include "iso/disk_image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "device/slot_state.hpp"
#include "iso/boot_data.hpp"
#include "iso/grub_image.hpp"
#include "iso/initramfs.hpp"
#include "iso/kernel_files.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"
#include "util/subprocess.hpp"
#include "util/unique_fd.hpp"

namespace ef::iso {
namespace {

constexpr uint64_t kSector = 512;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// Copies `src` into `fd` at `offset`, leaving all-zero chunks as holes.
Result<void> copy_into(int fd, const std::filesystem::path& src, uint64_t offset) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Error(Errc::io, src.string() + ": cannot open");
  std::string buf(1 << 20, '\0');
  uint64_t pos = 0;
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) return Error(Errc::io, src.string() + ": read failed");
    if (n == 0) break;
    bool zero = std::all_of(buf.begin(), buf.begin() + n, [](char c) { return c == 0; });
    if (!zero &&
        ::pwrite(fd, buf.data(), static_cast<size_t>(n), static_cast<off_t>(offset + pos)) != n)
      return Error(Errc::io,
                   "writing " + src.string() + " into the disk image failed (disk full?)");
    pos += static_cast<uint64_t>(n);
  }
  return Ok{};
}

Result<void> run_tool(const std::vector<std::string>& argv, const std::string& package,
                      ProcessOptions opts = {}) {
  opts.apt_package = package;
  // Never on our stdout, which may carry `build --json` (mke2fs says
  // "Creating regular file ..." there even with -q).
  opts.capture_stdout = true;
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return Ok{};
}

Result<void> write_gpt(const std::filesystem::path& disk, const DiskInfo& info,
                       const std::filesystem::path& work_dir) {
  std::string script = device::sfdisk_script(info.disk_guid, planned_partitions(info));
  std::filesystem::path file = work_dir / "gpt.sfdisk";
  EF_TRY(write_file_atomic(file, script));
  ProcessOptions opts;
  opts.stdin_file = file;
  return run_tool({"sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", disk.string()}, "fdisk",
                  opts);
}

Result<void> make_persistent(const std::filesystem::path& out, uint64_t size,
                             const std::string& seed, int64_t epoch) {
  std::error_code ec;
  std::filesystem::remove(out, ec);
  std::string uuid = persistent_fs_uuid(seed);
  ProcessOptions opts;
  opts.env = {{"E2FSPROGS_FAKE_TIME", std::to_string(epoch)}};
  // Empty: the initramfs creates its overlay and state directories on first
  // boot, so nothing on the build host's file ownership leaks in.
  return run_tool({"mke2fs", "-q", "-F", "-t", "ext4", "-L", "edgeforge-data", "-U", uuid, "-E",
                   "hash_seed=" + persistent_hash_seed(seed), "-I", "256", out.string(),
                   std::to_string(size / 1024) + "k"},
                  "e2fsprogs", opts);
}

}  // namespace

std::string derive_guid(const std::string& seed, const std::string& name) {
  std::string h = sha256_hex(seed + "/" + name);
  h[12] = '4';                                                  // version 4
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

Result<DiskInfo> plan_disk(const DiskSpec& spec, uint64_t squashfs_size, const std::string& seed) {
  const DiskLayout& l = spec.layout;
  for (uint64_t s : {l.esp_size, l.slot_size, l.persistent_size})
    if (s == 0 || s % kMiB != 0)
      return Error(Errc::invalid_argument,
                   "disk partition sizes must be positive multiples of 1 MiB");
  if (squashfs_size > l.slot_size)
    return Error(Errc::invalid_argument,
                 "the image (" + std::to_string((squashfs_size + kMiB - 1) / kMiB) +
                     " MiB) does not fit a slot of " + std::to_string(l.slot_size / kMiB) +
                     " MiB; raise spec.output.disk.slotSize");
  DiskInfo info;
  info.disk_guid = derive_guid(seed, "disk");
  uint64_t at = kMiB;
  for (auto [name, size] : {std::pair{kEspLabel, l.esp_size},
                            {kSlotALabel, l.slot_size},
                            {kSlotBLabel, l.slot_size},
                            {kPersistentLabel, l.persistent_size}}) {
    info.partitions.push_back({name, at, size, derive_guid(seed, name)});
    at += size;
  }
  info.size = at + kMiB;  // room for the backup GPT
  // GRUB's core for BIOS firmware lives in the gap before the ESP, so the
  // other partitions keep their offsets; it is the fifth GPT entry.
  info.partitions.push_back({device::kBiosLabel, device::kBiosFirstLba * kSector,
                             kMiB - device::kBiosFirstLba * kSector,
                             derive_guid(seed, device::kBiosLabel)});
  std::string vol = sha256_hex(seed + "/esp-volume-id");
  info.esp_uuid = fat_uuid(static_cast<uint32_t>(std::stoul(vol.substr(0, 8), nullptr, 16)));
  return info;
}

Result<std::vector<FatFile>> slot_boot_files(const std::filesystem::path& squashfs,
                                             const std::string& slot, int64_t epoch,
                                             const std::vector<std::string>& persistent_paths) {
  EF_ASSIGN(auto kernel, read_kernel_files(squashfs, default_boot_modules()));
  std::string cpio = std::move(kernel.image_cpio);
  if (cpio.empty()) {
    EF_ASSIGN(cpio, build_extra_initramfs({kernel.modules, persistent_paths, epoch, {}}));
  }
  std::string dir = "/slot-" + slot + "/";
  return std::vector<FatFile>{{dir + "vmlinuz", std::move(kernel.vmlinuz)},
                              {dir + "initrd.img", std::move(kernel.initrd)},
                              {dir + "edgeforge.cpio", std::move(cpio)}};
}

std::string persistent_fs_uuid(const std::string& seed) {
  return derive_guid(seed, "persistent-fs");
}
std::string persistent_hash_seed(const std::string& seed) {
  return derive_guid(seed, "persistent-hash");
}

uint32_t esp_volume_id(const DiskInfo& info) {
  return static_cast<uint32_t>(
      std::stoul(info.esp_uuid.substr(0, 4) + info.esp_uuid.substr(5), nullptr, 16));
}

std::vector<device::PlannedPartition> planned_partitions(const DiskInfo& info) {
  std::vector<device::PlannedPartition> out;
  for (const auto& p : info.partitions)
    out.push_back({p.name, p.offset, p.size, p.guid,
                   p.name == kEspLabel            ? device::kEspTypeGuid
                   : p.name == device::kBiosLabel ? device::kBiosBootTypeGuid
                                                  : device::kLinuxTypeGuid});
  return out;
}

// GRUB's embedded config on the disk: find the ESP by volume id, run its grub.cfg.
std::string embedded_config(const DiskInfo& info) {
  return "search --no-floppy --fs-uuid --set=root " + info.esp_uuid +
         "\nset prefix=($root)/grub\nconfigfile ($root)/grub/grub.cfg\n";
}

Result<BiosBootCode> bios_boot(const DiskInfo& info, const std::filesystem::path& work_dir) {
  for (const auto& p : info.partitions)
    if (p.name == device::kBiosLabel)
      return make_bios_boot(embedded_config(info), p.offset / kSector, p.size, work_dir);
  return Error(Errc::internal, "no bios_grub partition in the disk plan");
}

Result<std::vector<FatFile>> esp_files(const DiskSpec& spec, const DiskInfo& info,
                                       const std::filesystem::path& work_dir) {
  if (spec.secure_boot) {
    EF_ASSIGN(auto files,
              secure_boot_esp_files(spec.squashfs, *spec.secure_boot, spec.cmdline, work_dir));
    // Slot B's kernel image will sit beside slot A's.
    uint64_t need = fat_size_for(files) + files.back().content.size();
    if (need > spec.layout.esp_size)
      return Error(Errc::invalid_argument,
                   "the ESP needs " + std::to_string(need / kMiB) +
                       " MiB for two slots' kernel images; raise spec.output.disk.espSize");
    return files;
  }
  EF_ASSIGN(auto files, slot_boot_files(spec.squashfs, "a", spec.epoch, spec.persistent_paths));
  std::string embedded = embedded_config(info);
  EF_ASSIGN(std::string efi, make_grub_image(GrubTarget::efi_x64, embedded, work_dir));
  std::string cfg = replace_all(std::string(grub_ab_template()), "@EF_CMDLINE@", spec.cmdline);
  cfg = replace_all(cfg, "@EF_TIMEOUT@", std::to_string(spec.grub_timeout));
  EF_ASSIGN(device::GrubEnv env, device::slot_state_env(device::SlotState{}));
  EF_ASSIGN(std::string grubenv, device::render_grubenv(env));
  // Slot B's kernel and initrd will sit beside slot A's: check both fit.
  uint64_t need = fat_size_for(files) + fat_size_for(files) + efi.size();
  if (need > spec.layout.esp_size)
    return Error(Errc::invalid_argument,
                 "the ESP needs " + std::to_string(need / kMiB) +
                     " MiB for two slots' kernels and initrds; raise spec.output.disk.espSize");
  files.push_back({"/EFI/BOOT/BOOTX64.EFI", std::move(efi)});
  files.push_back({"/grub/grub.cfg", std::move(cfg)});
  files.push_back({"/grub/grubenv", std::move(grubenv)});
  return files;
}

Result<std::string> image_digest(const std::filesystem::path& squashfs, const std::string& known) {
  if (!known.empty()) return known;
  return sha256_file(squashfs);
}

Result<DiskInfo> build_raw_disk(const DiskSpec& given, const std::filesystem::path& given_out,
                                const std::filesystem::path& given_work_dir) {
  // The tools get absolute paths: nothing depends on their working directory.
  DiskSpec spec = given;
  EF_ASSIGN(spec.squashfs, absolute_path(given.squashfs));
  EF_ASSIGN(auto out, absolute_path(given_out));
  EF_ASSIGN(auto work_dir, absolute_path(given_work_dir));
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  EF_ASSIGN(std::string seed, image_digest(spec.squashfs, spec.image_sha256));
  uint64_t image_size = std::filesystem::file_size(spec.squashfs, ec);
  if (ec) return Error(Errc::io, spec.squashfs.string() + ": " + ec.message());
  uint64_t slot_bytes = image_size;
  if (spec.secure_boot) {
    // Slot A holds what the agent writes from a bundle: the image, then its tree.
    uint64_t tree = std::filesystem::file_size(spec.secure_boot->verity_tree, ec);
    if (ec) return Error(Errc::io, spec.secure_boot->verity_tree.string() + ": " + ec.message());
    if (spec.secure_boot->verity.hash_offset < image_size)
      return Error(Errc::internal, "the verity tree would overlap the image in slot A");
    slot_bytes = spec.secure_boot->verity.hash_offset + tree;
  }
  EF_ASSIGN(DiskInfo info, plan_disk(spec, slot_bytes, seed));
  uint32_t volume_id = esp_volume_id(info);

  EF_ASSIGN(auto files, esp_files(spec, info, work_dir));
  std::filesystem::path esp = work_dir / "esp.img", persist = work_dir / "persistent.img";
  EF_TRY(make_fat_image({spec.layout.esp_size, "EFBOOT", volume_id, spec.epoch, files}, esp,
                        work_dir));
  // Verified boot: left blank; the device makes it LUKS2 with a key sealed
  // to its TPM at first boot (a key the builder must never see).
  if (!spec.secure_boot)
    EF_TRY(make_persistent(persist, spec.layout.persistent_size, seed, spec.epoch));

  EF_ASSIGN(auto disk, AtomicFile::create(out));
  if (::ftruncate(disk.fd(), static_cast<off_t>(info.size)) != 0)
    return Error(Errc::io, out.string() + ": cannot size the disk image");
  EF_TRY(write_gpt(disk.temp_path(), info, work_dir));
  EF_TRY(copy_into(disk.fd(), esp, info.partitions[0].offset));
  EF_TRY(copy_into(disk.fd(), spec.squashfs, info.partitions[1].offset));
  if (spec.secure_boot)
    EF_TRY(copy_into(disk.fd(), spec.secure_boot->verity_tree,
                     info.partitions[1].offset + spec.secure_boot->verity.hash_offset));
  if (!spec.secure_boot) EF_TRY(copy_into(disk.fd(), persist, info.partitions[3].offset));
  if (!spec.secure_boot) {
    // Secure Boot is UEFI only: a signed chain has no BIOS path.
    EF_ASSIGN(BiosBootCode bios, bios_boot(info, work_dir));
    EF_TRY(pwrite_all(disk.fd(), bios.mbr_code.data(), bios.mbr_code.size(), 0, out));
    EF_TRY(
        pwrite_all(disk.fd(), bios.core.data(), bios.core.size(), info.partitions[4].offset, out));
  }
  EF_TRY(disk.commit());
  std::filesystem::remove(esp, ec);
  std::filesystem::remove(persist, ec);
  return info;
}

Result<void> convert_to_qcow2(const std::filesystem::path& raw, const std::filesystem::path& out) {
  // Absolute paths: qemu-img reads "name:rest" as a protocol ("nbd:", "ssh:").
  EF_ASSIGN(auto from, absolute_path(raw));
  EF_ASSIGN(auto to, absolute_path(out));
  std::filesystem::path tmp = to.string() + ".tmp";
  std::error_code ec;
  auto converted = run_tool(
      {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", from.string(), tmp.string()},
      "qemu-utils");
  if (!converted) {
    std::filesystem::remove(tmp, ec);
    return converted;
  }
  std::filesystem::rename(tmp, to, ec);
  if (ec) return Error(Errc::io, out.string() + ": " + ec.message());
  return Ok{};
}

}  // namespace ef::iso
