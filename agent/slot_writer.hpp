// Writing a bundle's payload into a slot (a partition, or a file standing in
// for one) and reading it back. The payload is the squashfs image followed by
// its dm-verity tree, so a written slot can later be opened with dm-verity.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>

#include "agent/bundle_source.hpp"
#include "signing/bundle_format.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// Bytes a slot can hold: a block device's size, or a regular file's
/// current length (a file slot is preallocated, never grown).
Result<uint64_t> slot_capacity(const std::filesystem::path& slot);

/// Called with bytes written so far and the total.
using WriteProgress = std::function<void(uint64_t done, uint64_t total)>;

/// Streams the payload of `manifest` from `source` into `slot` from byte 0
/// (direct I/O where the target allows it, the write on its own thread) and
/// makes it durable. A slot smaller than the payload is refused before
/// anything is written. The bytes are not checked here: verify_slot checks
/// what the slot holds (sha256 and every verity block) before anything may
/// boot it, which also finds a source that sent other bytes.
Result<void> write_slot(BundleSource& source, const signing::BundleManifest& manifest,
                        const std::filesystem::path& slot, const WriteProgress& progress = {});

/// Reads `slot` back and checks the payload's sha256 and every block against
/// the verity root hash (signing::verify_payload_at).
Result<void> verify_slot(const std::filesystem::path& slot,
                         const signing::BundleManifest& manifest);

}  // namespace ef::agent
