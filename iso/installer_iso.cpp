#include "iso/installer_iso.hpp"

// burn_source (the stream libisofs writes through) is declared by libburn;
// libisofs carries a copy for programs that do not link libburn.
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <future>
#include <memory>

#include "device/install_manifest.hpp"
#include "iso/boot_data.hpp"
#include "iso/disk_image.hpp"
#include "iso/fat_image.hpp"
#include "iso/grub_image.hpp"
#include "iso/initramfs.hpp"
#include "iso/kernel_files.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"

namespace ef::iso {
namespace {

struct ImageFree {
  void operator()(IsoImage* i) const { iso_image_unref(i); }
};
struct OptsFree {
  void operator()(IsoWriteOpts* o) const { iso_write_opts_free(o); }
};
struct BurnFree {
  void operator()(burn_source* b) const {
    b->free_data(b);
    std::free(b);
  }
};

Error iso_error(const std::string& what, int rc) {
  return Error(Errc::image, "ISO: " + what + ": " + iso_error_to_msg(rc));
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// Adds a file whose bytes are in memory (libisofs frees the malloc'd copy).
Result<void> add_memory_file(IsoDir* dir, const std::string& name, const std::string& data) {
  auto* buf = static_cast<unsigned char*>(std::malloc(std::max<size_t>(data.size(), 1)));
  if (!buf) return Error(Errc::io, "ISO: out of memory for " + name);
  std::memcpy(buf, data.data(), data.size());
  IsoStream* stream = nullptr;
  int rc = iso_memory_stream_new(buf, data.size(), &stream);
  if (rc < 0) {
    std::free(buf);
    return iso_error(name, rc);
  }
  rc = iso_tree_add_new_file(dir, name.c_str(), stream, nullptr);  // takes our reference
  if (rc < 0) {
    iso_stream_unref(stream);
    return iso_error(name, rc);
  }
  return Ok{};
}

Result<IsoDir*> add_dir(IsoImage* image, IsoDir* parent, const char* name) {
  IsoDir* dir = nullptr;
  int rc = iso_image_add_new_dir(image, parent, name, &dir);
  if (rc < 0) return iso_error(name, rc);
  return dir;
}

// "YYYYMMDDhhmmss00": the PVD time text libisofs writes verbatim (UTC).
std::string pvd_time(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S00", &tm);
  return buf;
}

Result<void> write_burn_source(burn_source* src, const std::filesystem::path& out) {
  EF_ASSIGN(auto file, AtomicFile::create(out));
  // libisofs's read_xt returns a whole request or nothing: a request that
  // crosses the end of the stream reports EOF and drops its bytes. Ask for
  // big requests while far from the announced end (2048-byte requests
  // throughout took twice as long), then one 2048-byte block at a time (the
  // image is a multiple of it) for the last MiBs, and batch the writes.
  constexpr size_t kBlock = 2048, kChunk = 256 * 1024;
  constexpr off_t kTail = off_t{4} << 20;
  const off_t announced = src->get_size(src);
  std::string buf(kChunk, '\0');
  off_t written = 0;
  for (bool end = false; !end;) {
    size_t filled = 0;
    while (filled < buf.size()) {
      bool far = announced - written - static_cast<off_t>(filled) > kTail;
      size_t want = far ? buf.size() - filled : kBlock;
      int n = src->read_xt(src, reinterpret_cast<unsigned char*>(buf.data() + filled),
                           static_cast<int>(want));
      if (n < 0) return Error(Errc::image, "ISO: libisofs failed while writing " + out.string());
      if (n == 0) {
        end = true;
        break;
      }
      filled += static_cast<size_t>(n);
    }
    EF_TRY(file.write(std::string_view(buf.data(), filled)));
    written += static_cast<off_t>(filled);
  }
  // The stream may end before the announced size (libburn pads the rest,
  // which holds the backup GPT's place): pad the same way.
  if (announced > written)
    EF_TRY(file.write(std::string(static_cast<size_t>(announced - written), '\0')));
  return file.commit();
}

// The install plan and the ESP files only the installer needs (the kernel
// and initrd are taken from /boot/ on the medium).
using InstallPlan = std::pair<device::InstallManifest, std::vector<FatFile>>;

Result<InstallPlan> install_plan(const IsoSpec& spec, const std::string& digest,
                                 const KernelFiles& kernel, const std::filesystem::path& work_dir) {
  DiskSpec disk;
  disk.squashfs = spec.squashfs;
  disk.image_sha256 = digest;
  disk.layout = spec.layout;
  disk.epoch = spec.epoch;
  disk.persistent_paths = spec.persistent_paths;
  disk.cmdline = spec.cmdline;
  disk.grub_timeout = spec.grub_timeout;
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(spec.squashfs, ec);
  if (ec) return Error(Errc::io, spec.squashfs.string() + ": " + ec.message());
  EF_ASSIGN(DiskInfo info, plan_disk(disk, size, digest));
  EF_ASSIGN(auto files, esp_files(disk, info, work_dir));
  device::InstallManifest m;
  m.product = spec.product;
  m.version = spec.version;
  m.min_version = spec.min_version;
  m.image_sha256 = digest;
  m.sbom_sha256 = spec.sbom_sha256;
  m.image_size = size;
  m.disk_guid = info.disk_guid;
  m.disk_size = info.size;
  m.partitions = planned_partitions(info);
  m.esp_volume_id = info.esp_uuid;
  m.site_registries = spec.site_registries;
  m.persistent_uuid = persistent_fs_uuid(digest);
  m.persistent_hash_seed = persistent_hash_seed(digest);
  std::vector<FatFile> extra;
  EF_ASSIGN(BiosBootCode bios, bios_boot(info, work_dir));
  for (auto [name, data] : {std::pair{"mbr", &bios.mbr_code}, {"core", &bios.core}}) {
    std::string source = std::string("edgeforge/bios/") + name + ".img";
    m.bios_files.push_back({name, source, sha256_hex(*data), data->size()});
    extra.push_back({source, std::move(*data)});
  }
  for (auto& f : files) {
    std::string source = f.content == kernel.vmlinuz  ? "boot/vmlinuz"
                         : f.content == kernel.initrd ? "boot/initrd.img"
                                                      : "edgeforge/esp" + f.path;
    m.esp_files.push_back({f.path, source, sha256_hex(f.content), f.content.size()});
    if (source.starts_with("edgeforge/esp/")) extra.push_back({source, std::move(f.content)});
  }
  return InstallPlan{std::move(m), std::move(extra)};
}

// libisofs looks files up from the filesystem root: a relative path would
// not be found whatever the working directory.
Result<IsoSpec> with_absolute_paths(const IsoSpec& given) {
  IsoSpec spec = given;
  EF_ASSIGN(spec.squashfs, absolute_path(given.squashfs));
  if (!given.site.empty()) {
    EF_ASSIGN(spec.site, absolute_path(given.site));
  }
  return spec;
}

// What the medium boots with besides the kernel and initrd: the extra cpio,
// GRUB for both firmwares, its configuration and the hybrid MBR.
struct MediumBootFiles {
  std::string cpio, cfg, eltorito, esp_image, mbr;
};

Result<MediumBootFiles> medium_boot_files(const IsoSpec& spec, const KernelFiles& kernel,
                                          std::string image_cpio, const std::string& volume_id,
                                          const std::string& digest,
                                          const std::filesystem::path& work_dir) {
  MediumBootFiles boot;
  boot.cpio = std::move(image_cpio);
  if (boot.cpio.empty()) {
    EF_ASSIGN(boot.cpio,
              build_extra_initramfs({kernel.modules, default_persistent_paths(), spec.epoch, {}}));
  }
  std::string embedded = "search --no-floppy --set=root --label " + volume_id +
                         "\nset prefix=($root)/boot/grub\nconfigfile ($root)/boot/grub/grub.cfg\n";
  EF_ASSIGN(std::string efi, make_grub_image(GrubTarget::efi_x64, embedded, work_dir));
  EF_ASSIGN(boot.eltorito, make_grub_image(GrubTarget::bios_eltorito, embedded, work_dir));
  EF_ASSIGN(boot.mbr, grub_hybrid_mbr());
  std::vector<FatFile> esp_files = {{"/EFI/BOOT/BOOTX64.EFI", efi}};
  std::filesystem::path esp = work_dir / "efi.img";
  uint32_t fat_id = static_cast<uint32_t>(std::stoul(digest.substr(8, 8), nullptr, 16));
  EF_TRY(make_fat_image({fat_size_for(esp_files), "EFIBOOT", fat_id, spec.epoch, esp_files}, esp,
                        work_dir));
  EF_ASSIGN(boot.esp_image, read_file(esp));
  boot.cfg = replace_all(std::string(grub_iso_template()), "@EF_LABEL@", volume_id);
  boot.cfg = replace_all(boot.cfg, "@EF_CMDLINE@", spec.cmdline);
  boot.cfg = replace_all(boot.cfg, "@EF_TIMEOUT@", std::to_string(spec.timeout));
  return boot;
}

// Adds the in-memory file at `path` ("edgeforge/esp/slot-a/vmlinuz") under
// `ef` (the medium's /edgeforge), making the directories on the way.
Result<void> add_plan_file(IsoImage* image, IsoDir* ef, const FatFile& f) {
  IsoDir* dir = ef;
  std::string rel = f.path.substr(std::string("edgeforge/").size());
  for (size_t p = rel.find('/'); p != std::string::npos; p = rel.find('/')) {
    std::string name = rel.substr(0, p);
    IsoNode* node = nullptr;
    if (iso_image_dir_get_node(image, dir, name.c_str(), &node, 0) == 1 &&
        iso_node_get_type(node) == LIBISO_DIR) {
      dir = reinterpret_cast<IsoDir*>(node);
    } else {
      EF_ASSIGN(dir, add_dir(image, dir, name.c_str()));
    }
    rel = rel.substr(p + 1);
  }
  return add_memory_file(dir, rel, f.content);
}

// The medium's files: /boot (kernel, initrd, cpio, GRUB) and /edgeforge
// (the image, the site file, the install plan and the files it names).
Result<void> add_medium_tree(IsoImage* image, const IsoSpec& spec, const KernelFiles& kernel,
                             const MediumBootFiles& files, const InstallPlan& plan) {
  IsoDir* root = iso_image_get_root(image);
  EF_ASSIGN(IsoDir * boot, add_dir(image, root, "boot"));
  EF_ASSIGN(IsoDir * grub, add_dir(image, boot, "grub"));
  EF_ASSIGN(IsoDir * ef, add_dir(image, root, "edgeforge"));
  EF_TRY(add_memory_file(boot, "vmlinuz", kernel.vmlinuz));
  EF_TRY(add_memory_file(boot, "initrd.img", kernel.initrd));
  EF_TRY(add_memory_file(boot, "edgeforge.cpio", files.cpio));
  EF_TRY(add_memory_file(grub, "grub.cfg", files.cfg));
  EF_TRY(add_memory_file(grub, "eltorito.img", files.eltorito));
  EF_TRY(add_memory_file(grub, "efi.img", files.esp_image));
  int rc = iso_tree_add_new_node(image, ef, "rootfs.squashfs", spec.squashfs.c_str(), nullptr);
  if (rc < 0) return iso_error(spec.squashfs.string(), rc);
  if (!spec.site.empty()) {
    EF_ASSIGN(IsoDir * site, add_dir(image, ef, "site"));
    rc = iso_tree_add_new_node(image, site, "site.yaml", spec.site.c_str(), nullptr);
    if (rc < 0) return iso_error(spec.site.string(), rc);
  }
  EF_TRY(add_memory_file(ef, "install.json", device::render_install_manifest(plan.first)));
  for (const auto& f : plan.second) EF_TRY(add_plan_file(image, ef, f));
  return Ok{};
}

// El Torito: BIOS no-emulation entry (GRUB patches its own boot info) and
// the UEFI entry pointing at the ESP image.
Result<void> add_el_torito(IsoImage* image) {
  ElToritoBootImage* bios = nullptr;
  int rc = iso_image_set_boot_image(image, "/boot/grub/eltorito.img", ELTORITO_NO_EMUL,
                                    "/boot/grub/boot.cat", &bios);
  if (rc < 0) return iso_error("El Torito BIOS entry", rc);
  el_torito_set_load_size(bios, 4);
  el_torito_set_isolinux_options(bios, (1 << 0) | (1 << 9), 0);  // boot info table, GRUB2 boot info
  ElToritoBootImage* uefi = nullptr;
  rc = iso_image_add_boot_image(image, "/boot/grub/efi.img", ELTORITO_NO_EMUL, 0, &uefi);
  if (rc < 0) return iso_error("El Torito UEFI entry", rc);
  el_torito_set_boot_platform_id(uefi, 0xef);
  return Ok{};
}

// Reproducible file attributes and times: every mode, owner and timestamp
// comes from the spec, none from the build host or the clock.
void set_reproducible_attributes(IsoWriteOpts* opts, int64_t epoch) {
  iso_write_opts_set_iso_level(opts, 3);  // files over 4 GiB
  iso_write_opts_set_rockridge(opts, 1);
  iso_write_opts_set_joliet(opts, 1);
  // RRIP 1.10 PX entries carry no inode numbers: libisofs numbers nodes with a
  // per-process counter, which would make a second build in one process differ.
  iso_write_opts_set_rrip_version_1_10(opts, 1);
  iso_write_opts_set_rrip_1_10_px_ino(opts, 0);
  iso_write_opts_set_replace_mode(opts, 1, 1, 1, 1);  // modes 0555/0444, owner root
  iso_write_opts_set_default_uid(opts, 0);
  iso_write_opts_set_default_gid(opts, 0);
  iso_write_opts_set_replace_timestamps(opts, 1);
  iso_write_opts_set_default_timestamp(opts, static_cast<time_t>(epoch));
  iso_write_opts_set_always_gmt(opts, 1);
  std::string uuid = pvd_time(epoch);
  iso_write_opts_set_pvd_times(opts, static_cast<time_t>(epoch), static_cast<time_t>(epoch), 0,
                               static_cast<time_t>(epoch), uuid.data());
}

// Hybrid: GRUB's MBR (patched with the El Torito image's address, bit 14),
// a protective partition from block 1 (bit 0), the ESP in a GPT whose GUID
// derives from the image digest.
Result<void> set_hybrid_system_area(IsoWriteOpts* opts, const std::string& digest,
                                    const std::string& mbr) {
  std::string system_area(32768, '\0');
  std::memcpy(system_area.data(), mbr.data(), std::min<size_t>(mbr.size(), 512));
  int rc = iso_write_opts_set_system_area(opts, system_area.data(), (1 << 0) | (1 << 14), 0);
  if (rc < 0) return iso_error("system area", rc);
  char efi_bootp[] = "--efi-boot-image";
  rc = iso_write_opts_set_efi_bootp(opts, efi_bootp, 0);
  if (rc < 0) return iso_error("EFI boot partition", rc);
  std::string guid_hex = derive_guid(digest, "iso-gpt");
  guid_hex.erase(std::remove(guid_hex.begin(), guid_hex.end(), '-'), guid_hex.end());
  uint8_t guid[16];
  for (int i = 0; i < 16; ++i)
    guid[i] = static_cast<uint8_t>(std::stoul(guid_hex.substr(2 * i, 2), nullptr, 16));
  iso_write_opts_set_gpt_guid(opts, guid, 1);
  return Ok{};
}

Result<std::unique_ptr<IsoWriteOpts, OptsFree>> write_options(int64_t epoch,
                                                              const std::string& digest,
                                                              const std::string& mbr) {
  IsoWriteOpts* raw_opts = nullptr;
  int rc = iso_write_opts_new(&raw_opts, 2);
  if (rc < 0) return iso_error("write options", rc);
  std::unique_ptr<IsoWriteOpts, OptsFree> opts(raw_opts);
  set_reproducible_attributes(opts.get(), epoch);
  EF_TRY(set_hybrid_system_area(opts.get(), digest, mbr));
  return opts;
}

}  // namespace

std::string iso_volume_id(const std::string& digest) {
  std::string id = "EDGEFORGE_" + digest.substr(0, 8);
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::toupper(c); });
  return id;
}

Result<IsoInfo> build_installer_iso(const IsoSpec& given, const std::filesystem::path& out,
                                    const std::filesystem::path& work_dir) {
  EF_ASSIGN(IsoSpec spec, with_absolute_paths(given));
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  EF_ASSIGN(std::string digest, image_digest(spec.squashfs, spec.image_sha256));
  IsoInfo info;
  info.volume_id = iso_volume_id(digest);

  // The image's kernel and initrd (with isofs for the live medium as well).
  std::vector<std::string> mods = default_boot_modules();
  mods.insert(mods.end(), {"isofs"});
  EF_ASSIGN(auto kernel, read_kernel_files(spec.squashfs, mods));
  std::string cpio = std::move(kernel.image_cpio);
  // What the installer writes (slot A's boot files, GRUB for the installed
  // disk) is prepared meanwhile on a thread of its own, in its own directory.
  std::filesystem::path plan_dir = work_dir / "installed";
  std::filesystem::create_directories(plan_dir, ec);
  auto plan_job =
      std::async(std::launch::async, [&] { return install_plan(spec, digest, kernel, plan_dir); });
  EF_ASSIGN(MediumBootFiles boot,
            medium_boot_files(spec, kernel, std::move(cpio), info.volume_id, digest, work_dir));
  EF_ASSIGN(InstallPlan plan, plan_job.get());

  auto started = std::chrono::steady_clock::now();  // the boot files are ready
  int rc = iso_init();
  if (rc < 0) return iso_error("init", rc);
  IsoImage* raw_image = nullptr;
  rc = iso_image_new(info.volume_id.c_str(), &raw_image);
  if (rc < 0) return iso_error("new image", rc);
  std::unique_ptr<IsoImage, ImageFree> image(raw_image);
  iso_image_set_application_id(image.get(), "EDGEFORGE");
  EF_TRY(add_medium_tree(image.get(), spec, kernel, boot, plan));
  EF_TRY(add_el_torito(image.get()));
  EF_ASSIGN(auto opts, write_options(spec.epoch, digest, boot.mbr));

  burn_source* raw_src = nullptr;
  rc = iso_image_create_burn_source(image.get(), opts.get(), &raw_src);
  if (rc < 0) return iso_error("start writing", rc);
  std::unique_ptr<burn_source, BurnFree> src(raw_src);
  EF_TRY(write_burn_source(src.get(), out));
  info.write_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  info.size = std::filesystem::file_size(out, ec);
  return info;
}

}  // namespace ef::iso
