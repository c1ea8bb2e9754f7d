// What a Secure Boot device reads about its boot state and boot files
// (docs/verified-boot.md): selector byte 0: systemd-boot entry file names
// (one per line) and their texts as the agent reads the ESP after a power
// cut; 1: the LoaderEntrySelected variable the initramfs reads; 2: a
// kernel image's PE layout and command line, as the agent checks the one a
// bundle carries (after its sha256 matched the signed manifest).
#include <sstream>

#include "device/boot_entries.hpp"
#include "device/dm_verity.hpp"
#include "fuzz/support.hpp"
#include "util/pe_file.hpp"

namespace {

void entries(std::string_view input) {
  std::vector<ef::device::SlotEntry> found;
  std::istringstream in{std::string(input)};
  for (std::string line; std::getline(in, line);) {
    auto e = ef::device::parse_slot_entry_name(line.substr(0, line.find(' ')));
    if (!e) continue;
    e->rank = ef::device::slot_entry_rank(line);
    EF_FUZZ_CHECK(e->slot == "A" || e->slot == "B");
    EF_FUZZ_CHECK(e->tries <= ef::device::kMaxSlotTries);
    found.push_back(*e);
  }
  auto state = ef::device::slot_state_from_entries(found);
  ef::fuzz::trace("slot_state_from_entries", state);
  if (!state) return;
  // What a device reads back must be writable again, to the same state.
  auto wanted = ef::device::entries_for_state(*state, {"A", "B"});
  EF_FUZZ_CHECK(wanted.ok());
  auto again = ef::device::slot_state_from_entries(*wanted);
  EF_FUZZ_CHECK(again && again->a_ok == state->a_ok && again->b_ok == state->b_ok &&
                again->a_tries == state->a_tries && again->b_tries == state->b_tries);
  for (const auto& w : *wanted)
    EF_FUZZ_CHECK(
        ef::device::parse_slot_entry_name(ef::device::slot_entry_file(w.slot, w.tries, w.good)));
}

void kernel_image(std::string_view input) {
  auto layout = ef::pe::parse(input);
  ef::fuzz::trace("pe::parse", layout);
  if (!layout) return;
  (void)ef::pe::authenticode_sha256(input, *layout);
  for (const auto& s : layout->sections) {
    EF_FUZZ_CHECK(uint64_t{s.raw_offset} + s.raw_size <= input.size() || s.raw_size == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input = ef::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      entries(input);
      break;
    case 1: {
      std::string slot = ef::device::slot_from_loader_entry(input);
      EF_FUZZ_CHECK(slot.empty() || slot == "A" || slot == "B");
      break;
    }
    default:
      kernel_image(input);
      break;
  }
  return 0;
}
