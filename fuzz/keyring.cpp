#include "fuzz/keyring.hpp"

#include "fuzz/support.hpp"

namespace ef::fuzz {

const signing::Keyring& fuzz_keyring() {
  static const auto keyring = signing::Keyring::load(EF_FUZZ_DIR "/keys");
  if (!keyring) invariant_failed("fuzz/keys/ loads as a keyring");
  return *keyring;
}

}  // namespace ef::fuzz
