#include "agent/boot_control.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/subprocess.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {

namespace fs = std::filesystem;

std::string other_slot(const std::string& slot) {
  return slot == "A" ? "B" : "A";
}

std::string booted_slot(const fs::path& cmdline_file) {
  auto text = read_file(cmdline_file);
  if (!text) return "";
  const std::string key = "edgeforge.slot=";
  for (size_t pos = text->find(key); pos != std::string::npos; pos = text->find(key, pos + 1)) {
    if (pos > 0 && (*text)[pos - 1] != ' ') continue;
    std::string v = text->substr(pos + key.size(), 1);
    if (v == "A" || v == "B") return v;
  }
  return "";
}

Result<fs::path> ensure_esp_mounted(const fs::path& mountpoint) {
  std::error_code ec;
  if (fs::exists(mountpoint / "grub" / "grubenv", ec)) return mountpoint;
  const fs::path dev = "/dev/disk/by-partlabel/edgeforge-esp";
  if (!fs::exists(dev, ec)) {
    return Error(Errc::not_found, dev.string() +
                                      " not found: this is not an edgeforge device (or pass "
                                      "--esp DIR with the mounted ESP)");
  }
  fs::create_directories(mountpoint, ec);
  // FAT has no journal: a power cut while boot files were being replaced can
  // leave lost or broken cluster chains, on which Linux remounts the ESP
  // read-only halfway through the next upgrade. Repair first (dosfstools);
  // only the files being written at the cut can be affected, and the agent
  // rewrites those.
  if (find_program("fsck.fat", std::getenv("PATH") ? std::getenv("PATH") : "/usr/sbin:/usr/bin")) {
    (void)run_process({"fsck.fat", "-a", "-w", dev.string()});
  }
  // "flush" makes vfat write data out early; the agent fsyncs anyway.
  if (::mount(dev.c_str(), mountpoint.c_str(), "vfat", MS_NOATIME | MS_NODEV | MS_NOEXEC,
              "flush,umask=0077") != 0) {
    return Error(Errc::io, "mounting the ESP " + dev.string() + " on " + mountpoint.string() +
                               ": " + std::strerror(errno));
  }
  if (!fs::exists(mountpoint / "grub" / "grubenv", ec)) {
    return Error(Errc::invalid_argument,
                 dev.string() + " holds no grub/grubenv: the ESP is not edgeforge's");
  }
  return mountpoint;
}

// grubenv is rewritten in place, as GRUB's save_env does, never replaced:
// FAT has no journal, and a power cut in the middle of a rename or of
// freeing the old file's clusters leaves a damaged allocation table (seen in
// the power-cut tests: "deleting FAT entry beyond EOF", ESP remounted
// read-only). In place, only the file's data sectors change. The block is
// 1024 bytes, and everything but '#' padding sits in its first 512-byte
// sector, which a disk writes atomically: a cut leaves the old or the new
// state.
namespace {

Result<void> overwrite_in_place(const fs::path& path, const std::string& block) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    return Error(Errc::io, "opening " + path.string() + " for writing: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || static_cast<size_t>(st.st_size) != block.size()) {
    return Error(Errc::io, path.string() + " is not " + std::to_string(block.size()) +
                               " bytes; restore it with grub-editenv " + path.string() + " create");
  }
  EF_TRY(pwrite_all(fd.get(), block.data(), block.size(), 0, path));
  if (::fdatasync(fd.get()) != 0) {
    return Error(Errc::io, "syncing " + path.string() + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

fs::path BootControl::slot_dir(const std::string& slot) const {
  return esp_ / (slot == "A" ? "slot-a" : "slot-b");
}

Result<device::SlotState> BootControl::read() const {
  auto run = [&]() -> Result<device::SlotState> {
    EF_ASSIGN(std::string block, read_file(grubenv_path()));
    EF_ASSIGN(device::GrubEnv env, device::parse_grubenv(block));
    return device::slot_state_from_env(env);
  };
  auto r = run();
  if (!r) return std::move(r).error().with_context(grubenv_path().string());
  return r;
}

Result<void> BootControl::write(const device::SlotState& state) const {
  // Keep variables others put there (GRUB's own, an operator's).
  device::GrubEnv env;
  if (auto block = read_file(grubenv_path())) {
    if (auto old = device::parse_grubenv(*block)) env = *old;
  }
  EF_ASSIGN(device::GrubEnv slots, device::slot_state_env(state));
  for (auto& [k, v] : slots) env[k] = v;
  EF_ASSIGN(std::string block, device::render_grubenv(env));
  EF_TRY(overwrite_in_place(grubenv_path(), block));
  EF_ASSIGN(std::string back, read_file(grubenv_path()));
  if (back != block) {
    return Error(Errc::io, grubenv_path().string() + ": read back differs from what was written");
  }
  return {};
}

bool slot_ok(const device::SlotState& s, const std::string& slot) {
  return slot == "A" ? s.a_ok : s.b_ok;
}

int slot_tries(const device::SlotState& s, const std::string& slot) {
  return slot == "A" ? s.a_tries : s.b_tries;
}

void set_slot(device::SlotState& s, const std::string& slot, bool ok, int tries) {
  (slot == "A" ? s.a_ok : s.b_ok) = ok;
  (slot == "A" ? s.a_tries : s.b_tries) = tries;
}

std::string first_slot(const device::SlotState& s) {
  return s.order.substr(0, 1);
}

void prefer_slot(device::SlotState& s, const std::string& slot) {
  s.order = slot == "A" ? "A B" : "B A";
}

}  // namespace ef::agent
