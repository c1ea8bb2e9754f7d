#include "agent/device.hpp"

#include "device/boot_entries.hpp"

namespace ef::agent {

Result<Device> Device::open(const DevicePaths& paths, const Log& log) {
  std::error_code ec;
  std::filesystem::create_directories(paths.lock.parent_path(), ec);
  EF_ASSIGN(AgentLock lock, AgentLock::acquire(paths.lock));
  EF_ASSIGN(AgentConfig config, load_config(paths.config));
  EF_ASSIGN(AgentState state, load_state(paths.state));
  std::filesystem::path esp = paths.esp;
  if (esp.empty()) {
    EF_ASSIGN(esp, ensure_esp_mounted(paths.esp_mountpoint));
  }
  Device d(paths, std::move(lock), std::move(config), std::move(state), BootControl(esp),
           booted_slot(paths.cmdline, paths.booted_slot));
  EF_ASSIGN(bool changed, d.reconcile(log));
  if (changed) EF_TRY(d.save());
  return d;
}

// The journal says what the agent did; grubenv says what GRUB will do and
// what it did (tries used up). Where they disagree after a power cut or a
// fallback, grubenv wins for boot facts and the journal is corrected.
Result<bool> Device::reconcile(const Log& log) {
  EF_ASSIGN(device::SlotState grub, boot_.read());
  bool changed = false;
  if (state_.operation && state_.operation->phase == OperationPhase::switching) {
    Operation& op = *state_.operation;
    bool switched = first_slot(grub) == op.slot &&
                    (slot_ok(grub, op.slot) || slot_tries(grub, op.slot) > 0 || booted_ == op.slot);
    if (switched) {
      state_.slot(op.slot).health = SlotHealth::trial;
      op.phase = OperationPhase::done;
    } else {
      state_.slot(op.slot) = SlotRecord{};
      op.phase = OperationPhase::failed;
      op.error = "interrupted before the boot switch (power cut or crash); run it again";
    }
    log("recovered the interrupted " + op.kind + " of " + op.version + ": " +
        operation_phase_name(op.phase));
    changed = true;
  } else if (recover_interrupted(state_)) {
    const Operation& op = *state_.operation;
    log("recovered the interrupted " + op.kind + " of " + op.version + " into slot " + op.slot +
        ": the slot is empty again; run it again");
    changed = true;
  }
  // A device fresh from the builder's disk image or the installer without a
  // journal: the booted slot is the one the image describes.
  if (!booted_.empty() && state_.slot(booted_).health == SlotHealth::empty) {
    SlotRecord& r = state_.slot(booted_);
    r.health = slot_ok(grub, booted_) ? SlotHealth::good : SlotHealth::trial;
    r.product = config_.product;
    r.version = config_.version;
    changed = true;
  }
  for (const char* name : {"A", "B"}) {
    SlotRecord& r = state_.slot(name);
    // Slots whose boots are counted: one on trial, and on boot entries a
    // confirmed one too (its counter armed, device/boot_entries.hpp).
    const bool trial = r.health == SlotHealth::trial;
    if (!trial && !(r.health == SlotHealth::good && boot_.uses_boot_entries())) continue;
    if (slot_ok(grub, name)) {
      if (trial) {
        r.health = SlotHealth::good;
        changed = true;
      }
      continue;
    }
    if (slot_tries(grub, name) != 0 || booted_ == name || booted_.empty()) continue;
    // The boot manager used up the tries without a healthy boot: a kernel
    // panic (a dm-verity error, say), a hang, or a reset before the health check.
    log("slot " + std::string(name) + " (" + r.version + ") " +
        (trial ? "did not come up within its tries"
               : "failed " + std::to_string(device::kArmedTries) +
                     " boots in a row (a dm-verity error, a panic or a hang): marked bad") +
        "; running slot " + booted_);
    r.health = SlotHealth::bad;
    changed = true;
  }
  return changed;
}

}  // namespace ef::agent
