// `edgeforge publish`: a signed bundle as a bundle head (.efbh) and a
// content-addressed chunk store that any static web server can serve
// (docs/updates.md). One store serves every release of a product: chunks
// already there are not written again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "util/error.hpp"
#include "util/oci_registry.hpp"

namespace ef::publish {

struct PublishReport {
  std::filesystem::path head;  // DIR/<product>-<version>.efbh, or the oci:// reference
  uint64_t chunks = 0;         // distinct chunks of the payload
  uint64_t payload_bytes = 0;
  uint64_t written_chunks = 0, written_bytes = 0;  // new in the store (stored size)
  uint64_t present_chunks = 0, present_bytes = 0;  // already there (stored size)
  uint64_t repaired_chunks = 0;                    // there but corrupt: written again
};

/// Publishes `bundle` into the store at `dir` (created when missing). The
/// chunks are checked against the bundle's signed index first; each is
/// written under a temporary name and renamed, and the head is written
/// last, so a reader never finds a head whose chunks are missing.
Result<PublishReport> publish_to_dir(const std::filesystem::path& bundle,
                                     const std::filesystem::path& dir);

/// Publishes `bundle` to the repository of `registry`, tagged with the
/// reference's tag (default: the bundle's version). Blobs the repository has
/// are not sent again; the manifest goes last.
Result<PublishReport> publish_to_oci(const std::filesystem::path& bundle, OciRegistry& registry);

/// The file name of a bundle head: "<product>-<version>.efbh".
std::string head_file_name(const std::string& product, const std::string& version);

}  // namespace ef::publish
