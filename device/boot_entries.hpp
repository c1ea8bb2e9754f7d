// The A/B slot state of a Secure Boot device (docs/verified-boot.md), kept
// in systemd-boot's boot entries on the ESP instead of grubenv: one entry
// per slot that holds a system,
// /loader/entries/edgeforge-slot-X[-good][+LEFT[-DONE]].conf.
//   -good+LEFT      the slot is confirmed (X_OK=1), its counter re-armed to
//                   kArmedTries by the agent after every healthy boot: a
//                   confirmed slot that stops booting (a dm-verity error,
//                   a panic, a hang) uses up its tries like a trial slot
//                   and the other slot boots; -good+0 is no longer
//                   confirmed (X_OK=0, X_TRY=0)
//   no counter      confirmed, without counting (disks built before -good)
//   +LEFT[-DONE]    on trial with LEFT tries left (X_OK=0, X_TRY=LEFT);
//                   systemd-boot renames the entry to +(LEFT-1)-(DONE+1)
//                   before it boots it, the agent makes it -good once the
//                   system is healthy; at +0 systemd-boot sorts the entry
//                   last, so the other slot boots (fallback)
//   sort-key        edgeforge-1 for the slot ORDER puts first, edgeforge-2
//                   for the other: systemd-boot boots the first entry in
//                   sort-key order among those with tries left
// The same SlotState as grubenv (device/slot_state.hpp), so the agent's A/B
// logic does not care which boot manager a device has.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "device/slot_state.hpp"
#include "util/error.hpp"

namespace ef::device {

/// Where the entries live on the ESP.
inline constexpr const char* kBootEntriesDir = "loader/entries";

/// The boots in a row a confirmed slot may fail before the other one boots.
inline constexpr int kArmedTries = 3;

/// One slot's entry as found on the ESP.
struct SlotEntry {
  std::string slot;   // "A" or "B"
  int tries = -1;     // -1: no counter (confirmed); else tries left
  int rank = 0;       // from sort-key edgeforge-N; 0 when absent
  bool good = false;  // "-good": confirmed, its counter armed
};

/// Parses an entry's file name ("edgeforge-slot-b+2-1.conf"): nullopt for
/// a file that is not one of edgeforge's slot entries.
std::optional<SlotEntry> parse_slot_entry_name(const std::string& name);

/// The rank in `text`'s "sort-key edgeforge-N" line; 0 when there is none.
int slot_entry_rank(const std::string& text);

/// The file name for `slot` ("A"/"B") with `tries` left (-1: no counter),
/// "-good" when `good`.
std::string slot_entry_file(const std::string& slot, int tries, bool good = false);

/// The entry's text: title, sort-key edgeforge-`rank`, and the slot's
/// signed kernel image /slot-x/edgeforge.efi.
std::string slot_entry_body(const std::string& slot, int rank);

/// The slot state the entries describe. A slot without an entry is neither
/// confirmed nor on trial. Errors: two entries for one slot, or none at all.
Result<SlotState> slot_state_from_entries(const std::vector<SlotEntry>& entries);

/// What the entries must be for `state`: one per slot in `present` (slots
/// whose kernel image is on the ESP); a confirmed slot is -good with
/// kArmedTries; a slot neither confirmed nor on trial
/// keeps an entry with +0 (systemd-boot tries it only when nothing else is
/// left, as GRUB's script does). Errors: an invalid state.
Result<std::vector<SlotEntry>> entries_for_state(const SlotState& state,
                                                 const std::vector<std::string>& present);

}  // namespace ef::device
