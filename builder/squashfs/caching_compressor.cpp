#include "builder/squashfs/caching_compressor.hpp"

#include <lz4.h>
#include <lzma.h>
#include <sqfs/error.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <new>
#include <vector>

#include "image/sqfs_handles.hpp"
#include "util/sha256.hpp"

namespace ef::squashfs {

namespace {

using image::SqfsPtr;

// A fixed probe, half words and half noise, so that a library that
// compresses differently (another version, other defaults) shows up in the
// fingerprint even when its version string did not change.
std::vector<unsigned char> probe_block(size_t size) {
  static const char* words[] = {"edge ", "forge ",      "squashfs ",   "block ", "cache ",
                                "\n",    "kubernetes ", "0123456789 ", "the ",   "of "};
  std::vector<unsigned char> out;
  out.reserve(size);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  while (out.size() < size) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    if ((state >> 60) < 8) {
      const char* w = words[(state >> 32) % 10];
      out.insert(out.end(), w, w + std::strlen(w));
    } else {
      out.push_back(static_cast<unsigned char>(state >> 40));
    }
  }
  out.resize(size);
  return out;
}

struct State {
  SqfsPtr<sqfs_compressor_t> inner;  // compresses a miss
  SqfsPtr<sqfs_compressor_t> uncmp;  // checks a hit
  std::shared_ptr<BlockCache> cache;
  std::vector<unsigned char> entry;    // an entry as read
  std::vector<unsigned char> scratch;  // a hit, decompressed
};

struct Caching {
  sqfs_compressor_t base;  // first: libsquashfs calls through it
  State* state;
};

Caching* self(const void* p) {
  return static_cast<Caching*>(const_cast<void*>(p));
}

void get_configuration(const sqfs_compressor_t* cmp, sqfs_compressor_config_t* cfg) {
  const sqfs_compressor_t* inner = self(cmp)->state->inner.get();
  inner->get_configuration(inner, cfg);
}

int write_options(sqfs_compressor_t* cmp, sqfs_file_t* file) {
  sqfs_compressor_t* inner = self(cmp)->state->inner.get();
  return inner->write_options(inner, file);
}

int read_options(sqfs_compressor_t* cmp, sqfs_file_t* file) {
  sqfs_compressor_t* inner = self(cmp)->state->inner.get();
  return inner->read_options(inner, file);
}

// True when the entry is exactly what the compressor makes of `in`: it
// decompresses to `in` (or is `in`, for a block kept as is).
bool entry_matches(State& s, const BlockCache::Entry& e, const sqfs_u8* in, sqfs_u32 size,
                   sqfs_u32 outsize) {
  if (e.result == 0)
    return e.payload.size() == size && std::memcmp(e.payload.data(), in, size) == 0;
  if (e.result > outsize) return false;
  if (s.scratch.size() < size) s.scratch.resize(size);
  sqfs_s32 n = s.uncmp->do_block(s.uncmp.get(), reinterpret_cast<const sqfs_u8*>(e.payload.data()),
                                 e.result, s.scratch.data(), size);
  return n == static_cast<sqfs_s32>(size) && std::memcmp(s.scratch.data(), in, size) == 0;
}

sqfs_s32 cached_block(State& s, const sqfs_u8* in, sqfs_u32 size, sqfs_u8* out, sqfs_u32 outsize) {
  BlockKey key = block_key(in, size);
  if (auto e = s.cache->lookup(key, size, s.entry)) {
    if (entry_matches(s, *e, in, size, outsize)) {
      if (e->result) std::memcpy(out, e->payload.data(), e->result);
      s.cache->count_hit(size);
      // The new image holds it too: its pack will name it.
      s.cache->remember(key, e->result, size, e->payload, e->checksum, false);
      return static_cast<sqfs_s32>(e->result);
    }
    s.cache->reject(key);
  }
  s.cache->count_miss();
  sqfs_s32 n = s.inner->do_block(s.inner.get(), in, size, out, outsize);
  if (n > 0)
    s.cache->remember(key, static_cast<uint32_t>(n), size,
                      std::string_view(reinterpret_cast<const char*>(out), static_cast<size_t>(n)),
                      std::nullopt, true);
  else if (n == 0)  // kept as is: the image holds the block itself
    s.cache->remember(key, 0, size, std::string_view(reinterpret_cast<const char*>(in), size),
                      std::nullopt, true);
  return n;
}

// libsquashfs calls this from its worker threads: no exception may leave
// it (only running out of memory throws here).
sqfs_s32 do_block(sqfs_compressor_t* cmp, const sqfs_u8* in, sqfs_u32 size, sqfs_u8* out,
                  sqfs_u32 outsize) {
  try {
    return cached_block(*self(cmp)->state, in, size, out, outsize);
  } catch (...) {
    return SQFS_ERROR_ALLOC;
  }
}

void destroy(sqfs_object_t* obj) {
  Caching* c = self(obj);
  delete c->state;
  delete c;
}

sqfs_compressor_t* make(const sqfs_compressor_t* inner, std::shared_ptr<BlockCache> cache) {
  auto state = std::make_unique<State>();
  state->inner.reset(static_cast<sqfs_compressor_t*>(sqfs_copy(inner)));
  if (!state->inner) return nullptr;
  sqfs_compressor_config_t cfg;
  inner->get_configuration(inner, &cfg);
  cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
  sqfs_compressor_t* uncmp = nullptr;
  if (sqfs_compressor_create(&cfg, &uncmp) != 0) return nullptr;
  state->uncmp.reset(uncmp);
  state->cache = std::move(cache);
  auto* c = new (std::nothrow) Caching{};
  if (!c) return nullptr;
  c->base.base.destroy = destroy;
  c->base.base.copy = [](const sqfs_object_t* obj) -> sqfs_object_t* {
    try {
      const State& s = *self(obj)->state;
      sqfs_compressor_t* copy = make(s.inner.get(), s.cache);
      return copy ? &copy->base : nullptr;
    } catch (...) {
      return nullptr;  // libsquashfs reports the copy it could not make
    }
  };
  c->base.get_configuration = get_configuration;
  c->base.write_options = write_options;
  c->base.read_options = read_options;
  c->base.do_block = do_block;
  c->state = state.release();
  return &c->base;
}

}  // namespace

std::string compressor_fingerprint(sqfs_compressor_t* cmp) {
  sqfs_compressor_config_t cfg;
  cmp->get_configuration(cmp, &cfg);
  std::string out = "edgeforge block cache 2\ncompressor " + std::to_string(cfg.id) + "\nflags " +
                    std::to_string(cfg.flags) + "\nblock size " + std::to_string(cfg.block_size) +
                    "\nlevel " + std::to_string(cfg.level) + "\noptions ";
  const auto* opt = reinterpret_cast<const unsigned char*>(&cfg.opt);
  for (size_t i = 0; i < sizeof(cfg.opt); ++i) out += std::to_string(opt[i]) + " ";
  out += std::string("\nzstd ") + ZSTD_versionString() + "\nxz " + lzma_version_string() +
         "\nzlib " + zlibVersion() + "\nlz4 " + LZ4_versionString();
  // The probe is at most one block (the compressors refuse more).
  auto probe = probe_block(std::min<size_t>(cfg.block_size, 65536));
  std::vector<unsigned char> packed(probe.size());
  SqfsPtr<sqfs_compressor_t> copy(static_cast<sqfs_compressor_t*>(sqfs_copy(cmp)));
  sqfs_s32 n = copy ? copy->do_block(copy.get(), probe.data(), static_cast<sqfs_u32>(probe.size()),
                                     packed.data(), static_cast<sqfs_u32>(packed.size()))
                    : -1;
  out += "\nprobe " + std::to_string(n) + " " +
         sha256_hex(std::string_view(reinterpret_cast<const char*>(packed.data()),
                                     n > 0 ? static_cast<size_t>(n) : 0));
  return out;
}

Result<sqfs_compressor_t*> caching_compressor(const sqfs_compressor_t* cmp,
                                              std::shared_ptr<BlockCache> cache) {
  cache->open_shelf(compressor_fingerprint(const_cast<sqfs_compressor_t*>(cmp)));
  sqfs_compressor_t* made = make(cmp, std::move(cache));
  if (!made) return Error(Errc::image, "cannot create the block cache's compressor");
  return made;
}

}  // namespace ef::squashfs
