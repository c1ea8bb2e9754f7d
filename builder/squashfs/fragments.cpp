#include "builder/squashfs/fragments.hpp"

#include <openssl/evp.h>
#include <sqfs/block.h>
#include <sqfs/error.h>
#include <xxhash.h>

#include <cstring>
#include <new>

#include "image/sqfs_handles.hpp"

namespace ef::squashfs {

namespace {

// A block is closed after a tail whose XXH3-64 has its low bits zero: 1 tail
// in kFragmentRunTails on average. docs/updates.md has what it buys; 16 was
// chosen, not tuned. (A non-cryptographic hash is enough to place block
// boundaries; identical tails are told apart by sha256.)
constexpr uint64_t kFragmentRunTails = 16;

Error sqfs_error(int code, const std::string& what) {
  return Error(Errc::image, what + ": " + image::sqfs_error_name(code));
}

// The processor hands `user` back to the block writer; a fragment block's is
// its table index + 1 (so that it is never null).
void* user_of(uint32_t index) {
  return reinterpret_cast<void*>(uintptr_t{index} + 1);
}
uint32_t index_of(void* user) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(user) - 1);
}

struct RecordingWriter {
  sqfs_block_writer_t base;  // first: libsquashfs calls through it
  sqfs_block_writer_t* inner;
  sqfs_frag_table_t* table;
};

RecordingWriter* self(const void* wr) {
  return static_cast<RecordingWriter*>(const_cast<void*>(wr));
}

int write_block(sqfs_block_writer_t* wr, void* user, sqfs_u32 size, sqfs_u32 checksum,
                sqfs_u32 flags, const sqfs_u8* data, sqfs_u64* location) {
  RecordingWriter* w = self(wr);
  int rc = w->inner->write_data_block(w->inner, user, size, checksum, flags, data, location);
  if (rc || !(flags & SQFS_BLK_FRAGMENT_BLOCK)) return rc;
  sqfs_u32 stored = size;
  if (!(flags & SQFS_BLK_IS_COMPRESSED)) stored |= 1u << 24;  // squashfs's "not compressed" bit
  return sqfs_frag_table_set(w->table, index_of(user), *location, stored);
}

sqfs_u64 block_count(const sqfs_block_writer_t* wr) {
  const RecordingWriter* w = self(wr);
  return w->inner->get_block_count(w->inner);
}

void destroy_writer(sqfs_object_t* obj) {
  RecordingWriter* w = self(obj);
  sqfs_destroy(w->inner);
  delete w;
}

}  // namespace

FragmentPacker::FragmentPacker(sqfs_block_processor_t* proc, sqfs_frag_table_t* table,
                               uint32_t block_size)
    : proc_(proc), table_(table), block_size_(block_size) {
  block_.reserve(block_size);
}

Result<FragmentRef> FragmentPacker::add(const unsigned char* data, size_t size) {
  if (size == 0 || size > block_size_)
    return Error(Errc::internal, "a tail of " + std::to_string(size) + " bytes");
  // Only a tail whose size repeats can equal an earlier one: on a Debian
  // base that leaves most tail bytes unhashed (sha256 of every tail was 7 %
  // of a level-3 build's CPU time).
  const bool may_repeat = !shared_ || shared_->contains(static_cast<uint32_t>(size));
  std::array<unsigned char, 32> digest{};
  if (may_repeat) {
    unsigned int len = 0;
    if (!EVP_Digest(data, size, digest.data(), &len, EVP_sha256(), nullptr))
      return Error(Errc::internal, "sha256 of a tail failed");
    hashed_bytes_ += size;
    if (auto it = seen_.find(digest); it != seen_.end()) return it->second;
  }

  if (open_ && block_.size() + size > block_size_) EF_TRY(flush());
  if (!open_) {
    sqfs_u32 index = 0;
    if (int rc = sqfs_frag_table_append(table_, 0, 0, &index))
      return sqfs_error(rc, "adding a fragment block");
    index_ = index;
    open_ = true;
  }
  FragmentRef ref{index_, static_cast<uint32_t>(block_.size())};
  block_.append(reinterpret_cast<const char*>(data), size);
  if (may_repeat) seen_.emplace(digest, ref);
  if (XXH3_64bits(data, size) % kFragmentRunTails == 0) EF_TRY(flush());
  return ref;
}

Result<void> FragmentPacker::flush() {
  if (!open_) return Ok{};
  open_ = false;
  // IGNORE_SPARSE: a block of zero tails is still written (the table points at it).
  int rc = sqfs_block_processor_submit_block(proc_, user_of(index_),
                                             SQFS_BLK_FRAGMENT_BLOCK | SQFS_BLK_IGNORE_SPARSE,
                                             block_.data(), block_.size());
  block_.clear();
  if (rc) return sqfs_error(rc, "writing a fragment block");
  return Ok{};
}

sqfs_block_writer_t* wrap_writer(sqfs_block_writer_t* inner, sqfs_frag_table_t* table) {
  if (!inner) return nullptr;
  auto* w = new (std::nothrow) RecordingWriter{};
  if (!w) {
    sqfs_destroy(inner);
    return nullptr;
  }
  w->base.base.destroy = destroy_writer;
  w->base.base.copy = nullptr;
  w->base.write_data_block = write_block;
  w->base.get_block_count = block_count;
  w->inner = inner;
  w->table = table;
  return &w->base;
}

}  // namespace ef::squashfs
