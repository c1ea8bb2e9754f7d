#include "device/boot_entries.hpp"

#include <algorithm>
#include <sstream>

namespace ef::device {
namespace {

// Digits only, at most two of them (tries never exceed kMaxSlotTries; DONE
// grows by one per boot of a trial slot).
std::optional<int> small_number(const std::string& s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::optional<SlotEntry> parse_slot_entry_name(const std::string& name) {
  const std::string prefix = "edgeforge-slot-", suffix = ".conf";
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
  std::string rest = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (rest.empty() || (rest[0] != 'a' && rest[0] != 'b')) return std::nullopt;
  SlotEntry e;
  e.slot = rest[0] == 'a' ? "A" : "B";
  rest = rest.substr(1);
  if (rest.starts_with("-good")) {
    e.good = true;
    rest = rest.substr(5);
  }
  if (rest.empty()) return e;
  if (rest[0] != '+') return std::nullopt;
  rest = rest.substr(1);
  std::string left = rest.substr(0, rest.find('-'));
  auto tries = small_number(left);
  if (!tries) return std::nullopt;
  if (left.size() < rest.size() && !small_number(rest.substr(left.size() + 1))) return std::nullopt;
  e.tries = std::min(*tries, kMaxSlotTries);
  return e;
}

int slot_entry_rank(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, value;
    words >> key >> value;
    if (key == "sort-key" && value.starts_with("edgeforge-"))
      return small_number(value.substr(10)).value_or(0);
  }
  return 0;
}

std::string slot_entry_file(const std::string& slot, int tries, bool good) {
  std::string name = std::string("edgeforge-slot-") + (slot == "A" ? "a" : "b");
  if (good) name += "-good";
  if (tries >= 0) name += "+" + std::to_string(tries);
  return name + ".conf";
}

std::string slot_entry_body(const std::string& slot, int rank) {
  std::string lower = slot == "A" ? "a" : "b";
  return "title edgeforge slot " + slot + "\nsort-key edgeforge-" + std::to_string(rank) +
         "\nefi /slot-" + lower + "/edgeforge.efi\n";
}

Result<SlotState> slot_state_from_entries(const std::vector<SlotEntry>& entries) {
  const SlotEntry* a = nullptr;
  const SlotEntry* b = nullptr;
  for (const SlotEntry& e : entries) {
    const SlotEntry*& seen = e.slot == "A" ? a : b;
    if (seen != nullptr)
      return Error(Errc::invalid_argument,
                   "two boot entries for slot " + e.slot + "; remove one of them");
    seen = &e;
  }
  if (a == nullptr && b == nullptr)
    return Error(Errc::not_found, "no edgeforge slot entries in /loader/entries");
  // Confirmed: no counter, or -good with tries left (a -good slot at +0
  // failed its armed boots). Tries count only for a slot on trial.
  auto ok = [](const SlotEntry* e) {
    return e != nullptr && (e->tries < 0 || (e->good && e->tries > 0));
  };
  auto tries = [&](const SlotEntry* e) {
    return e != nullptr && !ok(e) && !e->good && e->tries > 0 ? e->tries : 0;
  };
  SlotState s;
  s.a_ok = ok(a);
  s.a_tries = tries(a);
  s.b_ok = ok(b);
  s.b_tries = tries(b);
  // A lower rank boots first; a missing entry or rank sorts last; a tie
  // goes to B, as systemd-boot then sorts by the entries' ids in reverse.
  auto rank = [](const SlotEntry* e) { return e == nullptr || e->rank == 0 ? 1000 : e->rank; };
  s.order = rank(b) <= rank(a) && b != nullptr ? "B A" : "A B";
  return s;
}

Result<std::vector<SlotEntry>> entries_for_state(const SlotState& state,
                                                 const std::vector<std::string>& present) {
  EF_TRY(slot_state_env(state));  // validates order and tries
  std::vector<SlotEntry> out;
  for (const std::string slot : {"A", "B"}) {
    if (std::find(present.begin(), present.end(), slot) == present.end()) continue;
    bool ok = slot == "A" ? state.a_ok : state.b_ok;
    int tries = slot == "A" ? state.a_tries : state.b_tries;
    out.push_back({slot, ok ? kArmedTries : tries, state.order.substr(0, 1) == slot ? 1 : 2, ok});
  }
  return out;
}

}  // namespace ef::device
