#include "agent/boot_control.hpp"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "util/atomic_file.hpp"

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

fs::path BootControl::slot_dir(const std::string& slot) const {
  return esp_ / (slot == "A" ? "slot-a" : "slot-b");
}

Result<iso::SlotState> BootControl::read() const {
  auto run = [&]() -> Result<iso::SlotState> {
    EF_ASSIGN(std::string block, read_file(grubenv_path()));
    EF_ASSIGN(iso::GrubEnv env, iso::parse_grubenv(block));
    return iso::slot_state_from_env(env);
  };
  auto r = run();
  if (!r) return std::move(r).error().with_context(grubenv_path().string());
  return r;
}

Result<void> BootControl::write(const iso::SlotState& state) const {
  // Keep variables others put there (GRUB's own, an operator's).
  iso::GrubEnv env;
  if (auto block = read_file(grubenv_path())) {
    if (auto old = iso::parse_grubenv(*block)) env = *old;
  }
  EF_ASSIGN(iso::GrubEnv slots, iso::slot_state_env(state));
  for (auto& [k, v] : slots) env[k] = v;
  EF_ASSIGN(std::string block, iso::render_grubenv(env));
  EF_TRY(write_file_atomic(grubenv_path(), block));
  EF_ASSIGN(std::string back, read_file(grubenv_path()));
  if (back != block) {
    return Error(Errc::io, grubenv_path().string() + ": read back differs from what was written");
  }
  return {};
}

bool slot_ok(const iso::SlotState& s, const std::string& slot) {
  return slot == "A" ? s.a_ok : s.b_ok;
}

int slot_tries(const iso::SlotState& s, const std::string& slot) {
  return slot == "A" ? s.a_tries : s.b_tries;
}

void set_slot(iso::SlotState& s, const std::string& slot, bool ok, int tries) {
  (slot == "A" ? s.a_ok : s.b_ok) = ok;
  (slot == "A" ? s.a_tries : s.b_tries) = tries;
}

std::string first_slot(const iso::SlotState& s) {
  return s.order.substr(0, 1);
}

void prefer_slot(iso::SlotState& s, const std::string& slot) {
  s.order = slot == "A" ? "A B" : "B A";
}

}  // namespace ef::agent
