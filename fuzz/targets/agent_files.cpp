// The files the agent reads on a device, any of which a power cut, a full
// disk or a newer agent may have left in any state: the journal
// (state.json), the channel watch state, the agent configuration, the site's
// registration file, the installer medium's install.json and the Docker
// config.json whose logins registry channels use, and a slot's kept chunk
// index. The first byte picks the file; the rest is its content. A journal
// that loads is saved, loaded and saved again to the same bytes; a chunk
// index that parses encodes back to its bytes.
#include <filesystem>

#include "agent/channel_poll.hpp"
#include "agent/config.hpp"
#include "agent/fleet_client.hpp"
#include "agent/slot_chunks.hpp"
#include "agent/state.hpp"
#include "device/install_manifest.hpp"
#include "fuzz/support.hpp"
#include "util/atomic_file.hpp"
#include "util/oci_registry.hpp"

namespace {

void journal(const std::filesystem::path& file) {
  auto state = ef::agent::load_state(file);
  ef::fuzz::trace("load_state", state);
  if (!state) return;
  ef::agent::recover_interrupted(*state);
  auto saved = ef::fuzz::scratch_dir() / "state-saved.json";
  if (!ef::agent::save_state(saved, *state)) return;
  auto again = ef::agent::load_state(saved);
  EF_FUZZ_CHECK(static_cast<bool>(again));
  auto resaved = ef::fuzz::scratch_dir() / "state-resaved.json";
  EF_FUZZ_CHECK(static_cast<bool>(ef::agent::save_state(resaved, *again)));
  EF_FUZZ_CHECK(ef::read_file(saved).value() == ef::read_file(resaved).value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto text = ef::fuzz::as_view(data + 1, size - 1);
  auto file = ef::fuzz::scratch_dir() / "input";
  ef::fuzz::write_file(file, text);
  switch (data[0] % 7) {
    case 0:
      journal(file);
      break;
    case 1:
      ef::fuzz::trace("load_watch_state", ef::agent::load_watch_state(file));
      break;
    case 2:
      ef::fuzz::trace("load_config", ef::agent::load_config(file));
      break;
    case 3:
      ef::fuzz::trace("load_registration", ef::agent::load_registration(file));
      break;
    case 4:
      ef::fuzz::trace("parse_install_manifest",
                      ef::device::parse_install_manifest(std::string(text), "install.json"));
      break;
    case 5:
      ef::fuzz::trace("docker_config_credentials",
                      ef::docker_config_credentials("registry.example:5000", file));
      break;
    default:
      if (auto kept = ef::agent::parse_slot_chunks(text))
        EF_FUZZ_CHECK(ef::agent::encode_slot_chunks(*kept) == text);
      break;
  }
  return 0;
}
