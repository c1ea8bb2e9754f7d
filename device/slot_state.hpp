// The A/B slot state the device boot chain keeps in the ESP's grubenv: the
// contract between the builder, GRUB's boot script (iso/data/grub-ab.cfg) and
// edgeforge-agent. Variables (all strings, see docs/disk-layout.md):
//   ORDER  slots in preference order, "A B" or "B A"
//   A_OK   "1": slot A holds a confirmed system and boots without counting
//   A_TRY  tries left, "0".."3", for slot A while it is on trial (A_OK=0);
//          GRUB decrements it before booting, the agent sets A_OK=1 once the
//          system is healthy; at "0" GRUB skips the slot (fallback)
//   B_OK, B_TRY  the same for slot B
#pragma once

#include <string>

#include "device/grubenv.hpp"
#include "util/error.hpp"

namespace ef::device {

/// Most tries a slot on trial can be given (GRUB script has no arithmetic:
/// each value is one branch of an if/elif chain).
inline constexpr int kMaxSlotTries = 3;

struct SlotState {
  std::string order = "A B";
  bool a_ok = true;
  int a_tries = 0;
  bool b_ok = false;
  int b_tries = 0;
};

/// The grubenv variables for `state`. Errors: an order other than "A B" or
/// "B A", or tries outside 0..kMaxSlotTries.
Result<GrubEnv> slot_state_env(const SlotState& state);

/// Reads the slot state back from `env`. Errors: missing or invalid variables.
Result<SlotState> slot_state_from_env(const GrubEnv& env);

}  // namespace ef::device
