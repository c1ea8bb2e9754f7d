// What the agent remembers on the persistent partition: each slot's content
// and state, the anti-rollback floor, and the operation in progress. Every
// change is saved (atomically and durably) before the step it describes, so
// after a power cut the next start knows what was interrupted and cleans up.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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
  /// sha256 of the SBOM the bundle carried (its signed "sbom" attachment);
  /// empty when the slot's image came without one.
  std::string sbom_sha256;
};

/// How far an operation got. In order for an upgrade: writing, verifying,
/// boot_files, switching, then done or failed.
enum class OperationPhase { writing, verifying, boot_files, switching, done, failed };

/// The name of `phase` in the journal and the logs ("boot-files"). These
/// names are the on-disk format of devices in the field: never change one.
const char* operation_phase_name(OperationPhase phase);

/// The phase named `name`, or nullopt for a name this agent does not know.
std::optional<OperationPhase> parse_operation_phase(std::string_view name);

/// An operation and how far it got.
struct Operation {
  std::string kind;  // "install", "upgrade", "rollback", "mark-good"
  OperationPhase phase = OperationPhase::writing;
  std::string slot;    // "A" or "B": the slot it changes
  std::string bundle;  // where the bundle came from
  std::string version;
  std::string error;  // why it failed
  bool finished() const { return phase == OperationPhase::done || phase == OperationPhase::failed; }
};

struct AgentState {
  SlotRecord a, b;
  std::string floor = "0.0.0";         // highest minVersion installed so far
  std::optional<Operation> operation;  // in progress (or the last one, finished)

  SlotRecord& slot(const std::string& name) { return name == "A" ? a : b; }
  const SlotRecord& slot(const std::string& name) const { return name == "A" ? a : b; }
};

/// Reads `path`; a missing file is a fresh device (both slots empty). A
/// malformed file is Errc::invalid_argument naming it. An operation phase
/// this agent does not know (a newer agent's journal, read after a rollback
/// to an older slot) is read as `switching`: the boot state then decides
/// whether its slot boots (see Device::reconcile), which never empties a
/// slot GRUB boots and never boots a half-written one. Refusing the file
/// instead would stop every agent command, the health check's mark-good
/// among them, until someone moved the journal away.
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
