// What the agent remembers on the persistent partition: each slot's content
// and state, the anti-rollback floor, and the operation in progress. Every
// change is saved (atomically and durably) before the step it describes, so
// after a power cut the next start knows what was interrupted and cleans up.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "util/error.hpp"

namespace ef::agent {

enum class SlotHealth { empty, trial, good, bad };
const char* slot_health_name(SlotHealth h);

struct SlotRecord {
  SlotHealth health = SlotHealth::empty;
  std::string product;
  std::string version;  // semver of the image in it, "" when empty
  std::string image_sha256;
  std::string min_version;  // the bundle's floor, adopted when the slot is marked good
};

/// An operation and how far it got. Phases in order for an upgrade:
/// "writing", "verifying", "boot-files", "switching", then "done" or
/// "failed" (with `error`).
struct Operation {
  std::string kind;  // "install", "upgrade", "rollback", "mark-good"
  std::string phase;
  std::string slot;    // "A" or "B": the slot it changes
  std::string bundle;  // where the bundle came from
  std::string version;
  std::string error;
  bool finished() const { return phase == "done" || phase == "failed"; }
};

struct AgentState {
  SlotRecord a, b;
  std::string floor = "0.0.0";         // highest minVersion installed so far
  std::optional<Operation> operation;  // in progress (or the last one, finished)

  SlotRecord& slot(const std::string& name) { return name == "A" ? a : b; }
  const SlotRecord& slot(const std::string& name) const { return name == "A" ? a : b; }
};

/// Reads `path`; a missing file is a fresh device (both slots empty). A
/// malformed file is Errc::invalid_argument naming it.
Result<AgentState> load_state(const std::filesystem::path& path);

/// Replaces `path` atomically and durably (temporary file, fsync, rename,
/// directory fsync): a power cut leaves the old or the new state, never a mix.
Result<void> save_state(const std::filesystem::path& path, const AgentState& state);

/// What the next start does with an operation a power cut or crash
/// interrupted: the slot it was writing is marked empty (never bootable
/// half-written) and the operation is recorded as failed with the phase it
/// reached. Returns true when it changed `state`. A "switching" upgrade is
/// left to the caller, which must read the boot state to know whether the
/// switch happened.
bool recover_interrupted(AgentState& state);

}  // namespace ef::agent
