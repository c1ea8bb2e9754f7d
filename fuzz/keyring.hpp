// The keyring the signed seeds were made with (fuzz/keys/fuzz.pub, written
// by fuzz/make-seeds.sh), for the targets that check signatures.
#pragma once

#include "signing/keyring.hpp"

namespace ef::fuzz {

/// Loaded once; a keyring that does not load stops the run.
const signing::Keyring& fuzz_keyring();

}  // namespace ef::fuzz
