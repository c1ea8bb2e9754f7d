#include "agent/install.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "agent/install_target.hpp"
#include "agent/lock.hpp"
#include "agent/state.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"
#include "util/subprocess.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

Result<void> run_tool(const std::vector<std::string>& argv, const std::string& package,
                      const fs::path& stdin_file = {}) {
  ProcessOptions opts;
  opts.apt_package = package;
  opts.stdin_file = stdin_file;
  opts.capture_stdout = true;  // mkfs banners; errors come with stderr
  // The install holds the disk's lock itself; util-linux tools asked (by
  // the environment) to take it too would wait on us forever.
  opts.env = {{"LOCK_BLOCK_DEVICE", "0"}};
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return Ok{};
}

/// A file system mounted on a private temporary directory; unmounted (and
/// the directory removed) when it goes away.
class TempMount {
 public:
  static Result<TempMount> mount(const fs::path& device, const char* type) {
    std::string tmpl = (fs::temp_directory_path() / "edgeforge-install.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      return errno_error(Errc::io, "cannot create " + tmpl, errno);
    if (::mount(device.c_str(), tmpl.c_str(), type, MS_NOATIME, nullptr) != 0) {
      int err = errno;
      ::rmdir(tmpl.c_str());
      return errno_error(Errc::io, "cannot mount " + device.string() + " (" + type + ")", err);
    }
    return TempMount(tmpl);
  }
  TempMount(TempMount&& o) noexcept : dir_(std::exchange(o.dir_, {})) {}
  TempMount& operator=(TempMount&&) = delete;
  ~TempMount() { (void)unmount(); }

  const fs::path& dir() const { return dir_; }
  /// Flushes and unmounts; an error means the data may not be on the disk.
  Result<void> unmount() {
    if (dir_.empty()) return Ok{};
    ::sync();
    fs::path d = std::exchange(dir_, {});
    if (::umount(d.c_str()) != 0)
      return errno_error(Errc::io, "cannot unmount " + d.string(), errno);
    ::rmdir(d.c_str());
    return Ok{};
  }

 private:
  explicit TempMount(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

// Streams the image from the medium into the slot, hashing it, then reads
// the slot back past the page cache and hashes again.
Result<void> write_slot_image(const fs::path& image, const fs::path& slot,
                              const device::InstallManifest& m) {
  UniqueFd in(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return errno_error(Errc::io, "cannot open " + image.string(), errno);
  UniqueFd out(::open(slot.c_str(), O_WRONLY | O_CLOEXEC));
  if (!out) return errno_error(Errc::io, "cannot open slot A " + slot.string(), errno);
  Sha256 written;
  EF_TRY(stream_range(in.get(), 0, m.image_size, image,
                      [&](const char* p, size_t n, uint64_t at) -> Result<void> {
                        written.update(p, n);
                        return pwrite_all(out.get(), p, n, at, slot);
                      }));
  if (::fdatasync(out.get()) != 0)
    return errno_error(Errc::io, "cannot flush slot A " + slot.string(), errno);
  if (written.hex_digest() != m.image_sha256)
    return Error(Errc::checksum,
                 image.string() +
                     ": the image on the installer medium does not match its sha256 "
                     "(the medium is damaged; write the ISO again)");
  UniqueFd back(::open(slot.c_str(), O_RDONLY | O_CLOEXEC));
  if (!back) return errno_error(Errc::io, "cannot open slot A " + slot.string(), errno);
  // Read the device, not what the page cache remembers of the write.
  ::posix_fadvise(back.get(), 0, static_cast<off_t>(m.image_size), POSIX_FADV_DONTNEED);
  Sha256 read;
  EF_TRY(stream_range(back.get(), 0, m.image_size, slot,
                      [&](const char* p, size_t n, uint64_t) -> Result<void> {
                        read.update(p, n);
                        return Ok{};
                      }));
  if (read.hex_digest() != m.image_sha256)
    return Error(Errc::checksum, slot.string() +
                                     ": slot A reads back different bytes than were written (the "
                                     "disk is failing; try another disk)");
  return Ok{};
}

// mtools writes the files without mounting: no vfat module or mount
// namespace needed, and the same calls the builder uses for the raw image.
Result<void> mtools(std::vector<std::string> argv) {
  ProcessOptions opts;
  opts.apt_package = "mtools";
  opts.env = {{"MTOOLSRC", "/dev/null"}, {"MTOOLS_SKIP_CHECK", "1"}};
  opts.capture_stdout = true;
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return Ok{};
}

Result<void> fill_esp(const fs::path& device, const fs::path& source,
                      const device::InstallManifest& m) {
  std::string volume_id = m.esp_volume_id.substr(0, 4) + m.esp_volume_id.substr(5);
  // FAT32 from 64 MiB up, as the builder's raw image; smaller ESPs get what mkfs picks.
  std::vector<std::string> mkfs = {"mkfs.vfat", "-n", m.esp_label, "-i", volume_id};
  if (m.partition("edgeforge-esp")->size >= 64 * 1024 * 1024) mkfs.insert(mkfs.end(), {"-F", "32"});
  mkfs.push_back(device.string());
  EF_TRY(run_tool(mkfs, "dosfstools"));
  std::set<std::string> dirs;
  for (const auto& f : m.esp_files)
    for (size_t p = f.path.find('/', 1); p != std::string::npos; p = f.path.find('/', p + 1))
      dirs.insert(f.path.substr(0, p));
  for (const std::string& d : dirs)  // sorted: parents first
    EF_TRY(mtools({"mmd", "-i", device.string(), "::" + d}));
  for (const auto& f : m.esp_files) {
    fs::path from = source / f.source;
    EF_ASSIGN(std::string sha, sha256_file(from));
    std::error_code ec;
    if (fs::file_size(from, ec) != f.size || sha != f.sha256)
      return Error(
          Errc::checksum,
          from.string() +
              ": does not match install.json (the medium is damaged; write the ISO again)");
    EF_TRY(mtools({"mcopy", "-o", "-i", device.string(), from.string(), "::" + f.path}));
  }
  UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0)
    return errno_error(Errc::io, "cannot flush the ESP " + device.string(), errno);
  return Ok{};
}

// GRUB for BIOS firmware: boot code into the MBR's first 440 bytes (the
// protective partition table stays), the core into the bios_grub partition.
Result<void> write_bios_boot(const fs::path& target, const fs::path& source,
                             const device::InstallManifest& m) {
  const auto* part = m.partition(device::kBiosLabel);
  if (m.bios_files.empty() || !part) return Ok{};
  UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, "cannot open " + target.string(), errno);
  for (const auto& f : m.bios_files) {
    fs::path from = source / f.source;
    EF_ASSIGN(std::string data, read_file(from));
    if (data.size() != f.size || sha256_hex(data) != f.sha256)
      return Error(
          Errc::checksum,
          from.string() +
              ": does not match install.json (the medium is damaged; write the ISO again)");
    bool mbr = f.path == "mbr";
    if ((mbr && data.size() != 440) || (!mbr && data.size() > part->size))
      return Error(Errc::invalid_argument, from.string() + ": does not fit its place on the disk");
    EF_TRY(pwrite_all(fd.get(), data.data(), data.size(), mbr ? 0 : part->offset, target));
  }
  if (::fsync(fd.get()) != 0)
    return errno_error(Errc::io, "cannot flush " + target.string(), errno);
  return Ok{};
}

Result<void> write_site(const fs::path& persist, const fs::path& site_file, const site::Site& site,
                        const device::InstallManifest& m,
                        const std::function<void(const std::string&)>& log) {
  EF_ASSIGN(std::string text, read_file(site_file));
  fs::path stored = persist / "site" / "site.yaml";
  std::error_code ec;
  fs::create_directories(stored.parent_path(), ec);
  if (ec) return Error(Errc::io, stored.parent_path().string() + ": " + ec.message());
  EF_TRY(write_file_atomic(stored, text));
  fs::permissions(stored, fs::perms::owner_read | fs::perms::owner_write,
                  ec);  // it may hold secrets
  auto target = site::registry_target_for(m.site_registries);
  std::vector<site::SiteFile> placed;
  for (auto f : site::render_site(site, target)) {
    std::string to = persistent_path_for(f.path);
    if (to.empty()) {
      log("skipped site file " + f.path +
          ": outside /etc and /var (bake it into the image with spec.site)");
      continue;
    }
    f.path = to;
    placed.push_back(std::move(f));
  }
  return site::write_site_files(placed, persist);
}

Result<void> fill_persistent(const fs::path& device, const InstallOptions& o,
                             const device::InstallManifest& m, const fs::path& site_file,
                             const std::optional<site::Site>& site) {
  EF_TRY(run_tool(
      {"mke2fs", "-q", "-F", "-t", "ext4", "-L", m.persistent_label, "-U", m.persistent_uuid, "-E",
       "hash_seed=" + m.persistent_hash_seed, "-I", "256", device.string()},
      "e2fsprogs"));
  EF_ASSIGN(auto persist, TempMount::mount(device, "ext4"));
  AgentState state;
  state.a = {SlotHealth::good, m.product, m.version, m.image_sha256, m.min_version, m.sbom_sha256};
  state.floor = m.min_version;
  state.operation =
      Operation{"install", OperationPhase::done, "A", o.source.string(), m.version, ""};
  EF_TRY(save_state(persist.dir() / "agent" / "state.json", state));
  if (site) EF_TRY(write_site(persist.dir(), site_file, *site, m, o.log));
  return persist.unmount();
}

std::string mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// Everything after the partition table is written: any failure leaves the
// disk unbootable.
Result<void> write_partitions(const InstallOptions& o, const device::InstallManifest& m,
                              const fs::path& site_file, const std::optional<site::Site>& site) {
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  std::vector<PartitionDevices::Range> ranges;
  for (const auto& p : m.partitions) ranges.push_back({p.offset, p.size});
  EF_ASSIGN(auto devices, PartitionDevices::open(o.target, ranges, o.sys_root));
  auto dev = [&](const char* name) {
    for (size_t i = 0; i < m.partitions.size(); ++i)
      if (m.partitions[i].name == name) return devices.paths()[i];
    return fs::path();
  };
  log("ESP " + dev("edgeforge-esp").string() + ": FAT32 " + m.esp_label + " (" + m.esp_volume_id +
      "), GRUB, grub.cfg, grubenv, slot A's kernel and initrd");
  EF_TRY(fill_esp(dev("edgeforge-esp"), o.source, m));
  if (!m.bios_files.empty()) {
    log("BIOS boot code: GRUB in the MBR and the bios_grub partition");
    EF_TRY(write_bios_boot(o.target, o.source, m));
  }
  log("slot A " + dev("edgeforge-slot-a").string() + ": writing " + m.product + " " + m.version +
      " (" + mib(m.image_size) + ") and reading it back");
  EF_TRY(write_slot_image(o.source / device::kMediumImagePath, dev("edgeforge-slot-a"), m));
  log("slot A verified (sha256 " + m.image_sha256.substr(0, 16) + "...)");
  // Slot B stays empty: no stale file system signature from an earlier use.
  EF_TRY(run_tool({"wipefs", "--all", "--quiet", dev("edgeforge-slot-b").string()}, "util-linux"));
  log("persistent " + dev("edgeforge-persist").string() + ": ext4 " + m.persistent_label +
      ", agent state (slot A good)" + (site ? ", site configuration" : ""));
  EF_TRY(fill_persistent(dev("edgeforge-persist"), o, m, site_file, site));
  ::sync();
  return Ok{};
}

}  // namespace

std::string persistent_path_for(const std::string& path) {
  for (const char* top : {"/etc/", "/var/"}) {
    std::string t = top;
    if (path.starts_with(t) && path.size() > t.size() && path.find("/../") == std::string::npos)
      return "overlay" + t.substr(0, t.size() - 1) + "/upper/" + path.substr(t.size());
  }
  return "";
}

Result<device::InstallManifest> load_install_manifest(const fs::path& source) {
  fs::path file = source / device::kInstallManifestPath;
  std::error_code ec;
  if (!fs::exists(file, ec))
    return Error(Errc::not_found, file.string() + " not found: " + source.string() +
                                      " is not an edgeforge installer medium (give --source)");
  EF_ASSIGN(std::string text, read_file(file));
  return device::parse_install_manifest(text, file.string());
}

Result<std::optional<site::Site>> load_install_site(const fs::path& source, const fs::path& site) {
  fs::path file = site.empty() ? source / device::kMediumSitePath : site;
  std::error_code ec;
  if (site.empty() && !fs::exists(file, ec)) return std::optional<site::Site>{};
  EF_ASSIGN(std::string text, read_file(file));
  EF_ASSIGN(auto parsed, site::parse_site(text, file.string()));
  return std::optional<site::Site>(std::move(parsed));
}

std::vector<std::string> missing_install_tools(bool file_target) {
  std::vector<std::pair<const char*, const char*>> tools = {{"sfdisk", "fdisk"},
                                                            {"mkfs.vfat", "dosfstools"},
                                                            {"mcopy", "mtools"},
                                                            {"mke2fs", "e2fsprogs"},
                                                            {"wipefs", "util-linux"}};
  if (file_target) tools.push_back({"losetup", "mount"});
  const char* env = std::getenv("PATH");
  std::string path = std::string(env ? env : "") + ":/usr/sbin:/sbin";
  std::vector<std::string> missing;
  for (auto [tool, package] : tools)
    if (!find_program(tool, path)) missing.push_back(std::string(tool) + " (" + package + ")");
  return missing;
}

Result<void> install(const InstallOptions& o) {
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  EF_ASSIGN(auto m, load_install_manifest(o.source));
  fs::path site_file = o.site.empty() ? o.source / device::kMediumSitePath : o.site;
  EF_ASSIGN(auto site, load_install_site(o.source, o.site));
  std::error_code ec;
  bool file_target = fs::is_regular_file(o.target, ec);
  if (auto missing = missing_install_tools(file_target); !missing.empty()) {
    std::string list;
    for (const auto& t : missing) list += (list.empty() ? "" : ", ") + t;
    return Error(Errc::not_found, "the install needs " + list +
                                      " on the live system; add the package(s) to "
                                      "the profile's base and rebuild the ISO");
  }
  TargetCheck check;
  check.wipe = o.wipe;
  check.refuse_edgeforge = o.unattended;
  check.min_size = m.disk_size;
  check.medium_disk = disk_holding(o.source, o.sys_root);
  log("target " + o.target.string() + ": checking (" + (o.wipe ? "wipe allowed" : "must be blank") +
      ")");
  EF_TRY(check_target(o.target, check, o.sys_root));
  // Held until the last byte is on the disk. On a block device it keeps
  // systemd-udevd from probing the disk and re-reading its partition table
  // while we write: udev does that when a writer closes the whole disk (the
  // BIOS boot code), and the partitions' nodes vanish and come back under us.
  EF_ASSIGN(const auto held, AgentLock::acquire_existing(o.target, o.lock_wait_seconds,
                                                         "another program (a partitioner, an "
                                                         "install, or udev probing the disk)"));

  if (o.wipe) {
    log("wiping partition table and file system signatures on " + o.target.string());
    EF_TRY(run_tool({"wipefs", "--all", "--force", "--quiet", o.target.string()}, "util-linux"));
  }
  const auto* esp = m.partition("edgeforge-esp");
  const auto* slot = m.partition("edgeforge-slot-a");
  const auto* persist = m.partition("edgeforge-persist");
  log("partitioning " + o.target.string() + " (GPT: ESP " + mib(esp->size) + ", slots A and B " +
      mib(slot->size) + " each, persistent " + mib(persist->size) + ")");
  std::string tmpl = (fs::temp_directory_path() / "edgeforge-gpt.XXXXXX").string();
  UniqueFd script_fd(::mkstemp(tmpl.data()));
  if (!script_fd) return errno_error(Errc::io, "cannot create " + tmpl, errno);
  fs::path script = tmpl;
  EF_TRY(write_file_atomic(script, device::sfdisk_script(m.disk_guid, m.partitions)));
  auto parted =
      run_tool({"sfdisk", "--quiet", "--wipe", "always", o.target.string()}, "fdisk", script);
  fs::remove(script, ec);
  if (!parted)
    return std::move(parted).error().with_context(
        "partitioning " + o.target.string() +
        " failed; the disk may be left unbootable, run the install again");
  auto written = write_partitions(o, m, site_file, site);
  if (!written)
    return std::move(written).error().with_context(
        "install onto " + o.target.string() +
        " failed after partitioning; the disk is left unbootable: fix the "
        "cause and run the install again");
  log("done: " + o.target.string() + " boots " + m.product + " " + m.version + " from slot A");
  return Ok{};
}

}  // namespace ef::agent
