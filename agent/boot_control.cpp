#include "agent/boot_control.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "device/boot_entries.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/subprocess.hpp"
#include "util/unique_fd.hpp"

namespace ef::agent {

namespace fs = std::filesystem;

std::string other_slot(const std::string& slot) {
  return slot == "A" ? "B" : "A";
}

std::string booted_slot(const fs::path& cmdline_file, const fs::path& booted_slot_file) {
  if (auto text = read_file(cmdline_file)) {
    const std::string key = "edgeforge.slot=";
    for (size_t pos = text->find(key); pos != std::string::npos; pos = text->find(key, pos + 1)) {
      if (pos > 0 && (*text)[pos - 1] != ' ') continue;
      std::string v = text->substr(pos + key.size(), 1);
      if (v == "A" || v == "B") return v;
    }
  }
  if (auto text = read_file(booted_slot_file)) {
    std::string v = text->substr(0, text->find('\n'));
    if (v == "A" || v == "B") return v;
  }
  return "";
}

namespace {

// grub/grubenv (GRUB) or loader/entries (systemd-boot, Secure Boot).
bool holds_boot_state(const fs::path& esp) {
  std::error_code ec;
  return fs::exists(esp / "grub" / "grubenv", ec) ||
         fs::is_directory(esp / device::kBootEntriesDir, ec);
}

}  // namespace

Result<fs::path> ensure_esp_mounted(const fs::path& mountpoint) {
  std::error_code ec;
  if (holds_boot_state(mountpoint)) return mountpoint;
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
  if (!holds_boot_state(mountpoint)) {
    return Error(Errc::invalid_argument, dev.string() +
                                             " holds neither grub/grubenv nor loader/entries: "
                                             "the ESP is not edgeforge's");
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

bool BootControl::uses_boot_entries() const {
  std::error_code ec;
  return !fs::exists(grubenv_path(), ec) && fs::is_directory(esp_ / device::kBootEntriesDir, ec);
}

Result<device::SlotState> BootControl::read() const {
  if (uses_boot_entries()) return read_entries();
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
  if (uses_boot_entries()) return write_entries(state);
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

namespace {

struct EntryOnDisk {
  device::SlotEntry entry;
  std::string name;
};

Result<std::vector<EntryOnDisk>> list_entries(const fs::path& dir) {
  std::vector<EntryOnDisk> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    auto e = device::parse_slot_entry_name(name);
    if (!e) continue;
    EF_ASSIGN(std::string text, read_file(it->path()));
    e->rank = device::slot_entry_rank(text);
    out.push_back({*e, name});
  }
  if (ec) return Error(Errc::io, dir.string() + ": " + ec.message());
  return out;
}

Result<void> sync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0)
    return Error(Errc::io, "syncing " + dir.string() + ": " + std::strerror(errno));
  return {};
}

}  // namespace

Result<device::SlotState> BootControl::read_entries() const {
  fs::path dir = esp_ / device::kBootEntriesDir;
  EF_ASSIGN(auto found, list_entries(dir));
  std::vector<device::SlotEntry> entries;
  for (const auto& f : found) entries.push_back(f.entry);
  auto state = device::slot_state_from_entries(entries);
  if (!state) return std::move(state).error().with_context(dir.string());
  return state;
}

// One slot at a time, the slot that becomes first before the other, and for
// each: rename to the new counter (what systemd-boot itself does on every
// trial boot), then the sort key rewritten in place (the same length, one
// sector). Every step leaves one entry per slot; in between, both entries
// may share a rank, which boots slot B first (systemd-boot's tie-break), the
// old or the new choice.
Result<void> BootControl::write_entries(const device::SlotState& state) const {
  fs::path dir = esp_ / device::kBootEntriesDir;
  std::vector<std::string> present;
  std::error_code ec;
  for (const std::string slot : {"A", "B"})
    if (fs::is_regular_file(slot_dir(slot) / "edgeforge.efi", ec)) present.push_back(slot);
  EF_ASSIGN(auto wanted, device::entries_for_state(state, present));
  std::sort(wanted.begin(), wanted.end(),
            [](const auto& x, const auto& y) { return x.rank < y.rank; });
  EF_ASSIGN(auto found, list_entries(dir));
  for (const device::SlotEntry& w : wanted) {
    fs::path target = dir / device::slot_entry_file(w.slot, w.tries, w.good);
    std::string body = device::slot_entry_body(w.slot, w.rank);
    auto cur = std::find_if(found.begin(), found.end(),
                            [&](const EntryOnDisk& f) { return f.entry.slot == w.slot; });
    if (cur == found.end()) {
      EF_TRY(write_file_atomic(target, body));
      continue;
    }
    if (dir / cur->name != target) {
      fs::rename(dir / cur->name, target, ec);
      if (ec) return Error(Errc::io, "renaming boot entry " + cur->name + ": " + ec.message());
      EF_TRY(sync_dir(dir));
    }
    EF_ASSIGN(std::string text, read_file(target));
    if (text == body) continue;
    if (text.size() == body.size()) {
      EF_TRY(overwrite_in_place(target, body));
    } else {
      EF_TRY(write_file_atomic(target, body));
    }
  }
  for (const EntryOnDisk& f : found) {
    bool kept = std::any_of(wanted.begin(), wanted.end(),
                            [&](const auto& w) { return w.slot == f.entry.slot; });
    if (!kept && !fs::remove(dir / f.name, ec))
      return Error(Errc::io, "removing boot entry " + f.name + ": " + ec.message());
  }
  EF_ASSIGN(auto back, read_entries());
  for (const std::string& slot : present)
    if (slot_ok(back, slot) != slot_ok(state, slot) ||
        (!slot_ok(state, slot) && slot_tries(back, slot) != slot_tries(state, slot)))
      return Error(Errc::io, dir.string() + ": read back differs from what was written");
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
