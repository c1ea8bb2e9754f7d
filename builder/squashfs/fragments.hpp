// Packs file tails into squashfs fragment blocks, in place of libsquashfs's
// own packer.
//
// libsquashfs closes a fragment block only when the next tail does not fit,
// so one grown or inserted tail moves every later tail into another block
// and a delta update carries all of them; closing a block early is only
// possible through sqfs_block_processor_finish, which drains every worker
// first (one such stall per block cost a third of a level-3 build). This
// packer keeps the open block itself, closes it also after a tail whose
// content hash says so (about one tail in kFragmentRunTails, so block
// boundaries follow content), and hands a closed block to the block
// processor as one more block to compress, with no stall. Identical tails
// are stored once (by sha256, computed only for tails whose size another
// tail of the image has: see expect_tail_sizes). The block's place in the file comes back
// through a block writer that forwards to libsquashfs's and records the
// location in the fragment table.
#pragma once

#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/frag_table.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>

#include "util/error.hpp"

namespace ef::squashfs {

/// Where a tail lives: fragment block index and offset inside it.
struct FragmentRef {
  uint32_t index = 0;
  uint32_t offset = 0;
};

class FragmentPacker {
 public:
  /// `proc` compresses and writes the blocks; `table` gets one entry per
  /// block (its location is filled in by the writer from wrap_writer).
  FragmentPacker(sqfs_block_processor_t* proc, sqfs_frag_table_t* table, uint32_t block_size);

  /// The sizes of the tails to come that may repeat (a size that only one
  /// tail of the image has needs no hash to be told apart). Without this
  /// call every tail is hashed.
  void expect_tail_sizes(std::unordered_set<uint32_t> shared) { shared_ = std::move(shared); }
  /// Places a tail of 1 .. block_size bytes and says where it lives.
  Result<FragmentRef> add(const unsigned char* data, size_t size);
  /// Tail bytes hashed with sha256 so far (for tests and measurements).
  uint64_t hashed_bytes() const { return hashed_bytes_; }
  /// Submits the open block, if any (before the processor is finished).
  Result<void> flush();

 private:
  sqfs_block_processor_t* proc_;
  sqfs_frag_table_t* table_;
  uint32_t block_size_;
  std::string block_;   // the open block's bytes
  uint32_t index_ = 0;  // its index in the fragment table
  bool open_ = false;
  std::map<std::array<unsigned char, 32>, FragmentRef> seen_;  // by the tail's sha256
  std::optional<std::unordered_set<uint32_t>> shared_;
  uint64_t hashed_bytes_ = 0;
};

/// A block writer that forwards to `inner` (taking ownership) and, for
/// the fragment blocks FragmentPacker submits, sets their location and
/// size in `table`. Null when out of memory.
sqfs_block_writer_t* wrap_writer(sqfs_block_writer_t* inner, sqfs_frag_table_t* table);

}  // namespace ef::squashfs
