// A libsquashfs compressor that answers from the block cache.
//
// libsquashfs's block processor gives every worker thread its own copy of
// the compressor it was created with and calls do_block for each data and
// fragment block. This compressor looks the block up first (XXH3-128 of the
// block, on the shelf of the real compressor's settings); a hit is used only
// after its payload checksum matched and it decompressed to exactly the
// block (or, for a block the compressor kept as is, compared equal), so the
// image is byte for byte the one a cold build writes. A miss is compressed
// by the real compressor and stored.
#pragma once

#include <sqfs/compressor.h>

#include <memory>
#include <string>

#include "builder/squashfs/block_cache.hpp"
#include "util/error.hpp"

namespace ef::squashfs {

/// Everything a compressor's output depends on, in words: its
/// configuration, the compression libraries' versions and a digest of what
/// it makes of a fixed probe. Two compressors with the same fingerprint
/// write the same bytes for the same block.
std::string compressor_fingerprint(sqfs_compressor_t* cmp);

/// A compressor that goes through `cache` around a copy of `cmp` (which
/// stays the caller's); opens the cache's shelf for `cmp`'s fingerprint.
/// Its copies (one per worker) share the cache.
Result<sqfs_compressor_t*> caching_compressor(const sqfs_compressor_t* cmp,
                                              std::shared_ptr<BlockCache> cache);

}  // namespace ef::squashfs
