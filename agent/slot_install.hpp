// Installing a bundle into one slot, every check in the safe order: the
// bundle's head, its signatures against the device keyring, the manifest,
// the device's policy (compatible, floor, installed version), then the
// payload streamed into the slot and read back. Boot state is not touched
// here; the upgrade flow switches it only after this succeeds.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/slot_writer.hpp"
#include "signing/bundle.hpp"
#include "util/error.hpp"

namespace ef::agent {

/// The file a release channel names: a bundle head must be exactly these
/// bytes before any chunk is fetched.
struct ExpectedFile {
  std::string sha256;
  uint64_t size = 0;
};

/// A slot a delta install may copy chunks from, and the file that keeps its
/// chunk index (agent/slot_chunks.hpp; empty: none, the slot is cut).
struct SeedSlot {
  std::filesystem::path slot;
  std::filesystem::path chunks;
};

struct SlotInstallOptions {
  std::string bundle;             // path or http(s) URL; a .efbh installs from a chunk store
  std::filesystem::path slot;     // block device or preallocated file
  std::filesystem::path keyring;  // trusted *.pub and the revoked list
  signing::VerifyPolicy policy;
  HttpStreamOptions http;
  WriteProgress progress;
  /// Called once the bundle passed signature and policy checks, before the
  /// first byte goes to the slot (the upgrade journals and takes the slot
  /// out of the boot order here); an error stops the install.
  std::function<Result<void>(const signing::BundleManifest&)> on_accepted;
  /// Called after the write, before the read-back.
  std::function<Result<void>()> on_written;
  /// Slots whose contents a delta install may reuse (the booted one first).
  std::vector<SeedSlot> seeds;
  /// Where the target slot's chunk index is kept (agent/slot_chunks.hpp):
  /// read for what the slot holds, removed before the first byte is written
  /// into it, written again once a delta install is verified. Empty: none.
  std::filesystem::path target_chunks;
  /// A bundle head (.efbh, or an OCI store's head blob) is read whole and
  /// checked against this before anything else of the release is fetched.
  std::optional<ExpectedFile> expected_head;
  /// Chunks fetched at once from a chunk store.
  int parallel_fetches = 4;
};

/// Where a delta install's bytes came from.
struct DeltaStats {
  bool used = false;                               // the install was from a bundle head
  bool full = false;                               // the plan fetched every missing chunk, no seed
  std::string plan;                                // one line: delta or full, and why
  uint64_t chunks = 0;                             // in the release
  uint64_t in_target_chunks = 0;                   // already in the target slot (an earlier try)
  uint64_t seeded_chunks = 0, seeded_bytes = 0;    // copied from a seed slot
  uint64_t fetched_chunks = 0, fetched_bytes = 0;  // downloaded (stored size)
  uint64_t computed_chunks = 0, computed_bytes = 0;  // the verity tree, made on the device
  uint64_t payload_bytes = 0;
  /// Learning what the slots hold before the plan: the bytes read and hashed
  /// (the target's, a seed's without a kept index), the seeds whose kept
  /// index was used instead, and the time until the plan was known.
  uint64_t scanned_bytes = 0;
  uint64_t seeds_from_kept_index = 0;
  double plan_seconds = 0;
};

struct SlotInstallResult {
  signing::BundleManifest manifest;
  signing::TrustedSignature signature;
  double write_seconds = 0;      // streaming the payload in, hashing, syncing
  double read_back_seconds = 0;  // reading the slot back and checking it
  DeltaStats delta;
};

/// Verifies and writes `options.bundle` into `options.slot`. Nothing is
/// written unless the signature and the policy pass; errors name the bundle.
Result<SlotInstallResult> install_to_slot(const SlotInstallOptions& options);

}  // namespace ef::agent
