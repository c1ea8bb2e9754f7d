// A chunk store: the chunks of any number of bundles, addressed by their
// sha256, as plain files a static web server (or a directory, or a USB
// stick) serves (docs/updates.md). A chunk is stored as
// chunks/<first 4 hex>/<sha256>: its bytes as they are, or one zstd frame
// of them when that is smaller. The file's length tells which: a file as
// long as the chunk is the chunk; a shorter one is compressed.
#pragma once

#include <string>
#include <string_view>

#include "signing/chunk_index.hpp"
#include "util/error.hpp"

namespace ef::signing {

/// "chunks/abcd/abcd…" (relative to the store's root).
std::string chunk_store_path(std::string_view sha256);

/// The stored form of `data` (zstd level `level` when that is smaller).
Result<std::string> encode_stored_chunk(std::string_view data, int level = 3);

/// The chunk `chunk` from its stored form: the bytes themselves or a zstd
/// frame of at most chunk.size bytes; its sha256 must be chunk.sha256.
/// Errc::checksum (naming the chunk) for anything else: a longer file, a
/// broken or oversized frame, other bytes.
Result<std::string> decode_stored_chunk(std::string_view stored, const Chunk& chunk);
}  // namespace ef::signing
