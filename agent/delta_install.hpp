// Installing a release from a bundle head (.efbh) and a chunk store
// (docs/updates.md): the head is checked exactly as a full bundle's
// (signatures, keyring, revocation, compatible, floor, installed version)
// before anything else; then the chunks the target slot already holds (an
// interrupted earlier try), the chunks the seed slots hold, and only the
// rest from the store, each checked against the signed index before it is
// written. The whole slot is then read back and verified as for a full
// bundle.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/slot_install.hpp"

namespace ef::agent {

/// Whether `location` names a bundle head (ends in .efbh) rather than a bundle.
bool is_bundle_head(const std::string& location);

/// Writes the release `options.bundle` (a .efbh path or URL) names into
/// `options.slot`, taking what it can from `options.seeds`. The result's
/// `delta` says what came from where.
Result<SlotInstallResult> install_delta_to_slot(const SlotInstallOptions& options);

}  // namespace ef::agent
