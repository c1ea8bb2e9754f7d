// The device's status as one JSON document: what `edgeforge-agent status
// --json` prints and what every report to the fleet service carries
// (docs/fleet-api.md, "Reports"). Reading it takes no lock and changes
// nothing, so it answers while an upgrade runs; a part that cannot be read
// is named in the document ("...Error") instead of failing the whole.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/device.hpp"
#include "device/slot_state.hpp"

namespace ef::agent {

/// GRUB's slot state from the ESP (mounting it when `paths.esp` is empty),
/// or why it cannot be read.
struct BootStateRead {
  std::optional<device::SlotState> state;
  std::string error;
};
BootStateRead read_boot_state(const DevicePaths& paths);

/// booted, slots (state, version, tries), floor, bootOrder, lastOperation,
/// health (the booted slot's: passed, pending or failed, and why), updates
/// (the release channel as the last `watch` left it) and uptimeSeconds.
nlohmann::json status_document(const DevicePaths& paths);

}  // namespace ef::agent
