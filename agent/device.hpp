// One agent run on a device: the lock, the configuration, the journal and
// the boot state, brought into agreement before any command acts. Opening a
// Device is where an interrupted operation is cleaned up and where what GRUB
// did since the last run (a fallback after failed tries) is recorded.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "agent/boot_control.hpp"
#include "agent/config.hpp"
#include "agent/lock.hpp"
#include "agent/state.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// Where the agent finds things on a device; the defaults are the layout of
/// docs/disk-layout.md, tests point them at files.
struct DevicePaths {
  std::filesystem::path config = kDefaultConfigPath;
  std::filesystem::path esp;  // empty: mount PARTLABEL edgeforge-esp at esp_mountpoint
  std::filesystem::path esp_mountpoint = "/run/edgeforge/esp";
  std::filesystem::path slot_a = "/dev/disk/by-partlabel/edgeforge-slot-a";
  std::filesystem::path slot_b = "/dev/disk/by-partlabel/edgeforge-slot-b";
  std::filesystem::path state = "/run/edgeforge/persist/agent/state.json";
  std::filesystem::path lock = "/run/edgeforge/agent.lock";
  std::filesystem::path cmdline = "/proc/cmdline";
  std::filesystem::path booted_slot = kBootedSlotFile;  // verified boot's initramfs writes it
  /// The site's fleet registration (site::kRegistrationPath); none: no reports.
  std::filesystem::path registration = "/etc/edgeforge/registration.yaml";

  const std::filesystem::path& slot(const std::string& name) const {
    return name == "A" ? slot_a : slot_b;
  }
  /// Where slot `name`'s chunk index is kept: beside the journal
  /// (agent/slot_chunks.hpp), "slot-a.chunks" or "slot-b.chunks".
  std::filesystem::path slot_chunks(const std::string& name) const {
    return state.parent_path() / (name == "A" ? "slot-a.chunks" : "slot-b.chunks");
  }
};

/// Progress and decisions, one line each (the console and the journal).
using Log = std::function<void(const std::string&)>;

class Device {
 public:
  /// Takes the lock, loads everything and reconciles the journal with the
  /// boot state (saving the journal when that changed it).
  static Result<Device> open(const DevicePaths& paths, const Log& log);

  const DevicePaths& paths() const { return paths_; }
  const AgentConfig& config() const { return config_; }
  AgentState& state() { return state_; }
  const BootControl& boot() const { return boot_; }
  /// The slot the running system came from, "" outside an edgeforge boot.
  const std::string& booted() const { return booted_; }

  /// Saves the journal (atomically and durably).
  Result<void> save() const { return save_state(paths_.state, state_); }

 private:
  Device(DevicePaths paths, AgentLock lock, AgentConfig config, AgentState state, BootControl boot,
         std::string booted)
      : paths_(std::move(paths)),
        lock_(std::move(lock)),
        config_(std::move(config)),
        state_(std::move(state)),
        boot_(std::move(boot)),
        booted_(std::move(booted)) {}
  Result<bool> reconcile(const Log& log);

  DevicePaths paths_;
  AgentLock lock_;
  AgentConfig config_;
  AgentState state_;
  BootControl boot_;
  std::string booted_;
};

}  // namespace ef::agent
