#include "builder/squashfs/block_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <map>
#include <random>

#include "util/atomic_file.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::squashfs {

namespace fs = std::filesystem;

namespace {

// Index, little-endian (the build machine's order; the cache is local):
// magic, record count, XXH3-64 of the records, then per block key (16),
// offset (8), length (4), compressor result (4), input size (4), reserved
// (4), XXH3-64 of the payload (8), sorted by key.
constexpr char kIndexMagic[8] = {'E', 'F', 'B', 'I', 'D', 'X', '\2', '\0'};
constexpr size_t kIndexHeader = 24;
constexpr size_t kRecord = 48;
constexpr const char* kPacks = "packs";
constexpr const char* kTempPrefix = ".tmp-";
// A pack used within this long is not touched again (its index's mtime is
// the LRU clock).
constexpr int64_t kTouchAfter = 3600;
// A pack without an index (or a temporary index) not written for this long
// is a stopped build's leftover.
constexpr int64_t kLeftoverAge = 3600;

void put32(unsigned char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
void put64(unsigned char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}
uint32_t get32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

}  // namespace

std::string BlockKey::hex() const {
  return squashfs::hex(bytes, sizeof(bytes));
}

bool BlockKey::operator==(const BlockKey& o) const {
  return std::memcmp(bytes, o.bytes, sizeof(bytes)) == 0;
}

size_t BlockKeyHash::operator()(const BlockKey& k) const {
  size_t h;
  std::memcpy(&h, k.bytes, sizeof(h));
  return h;
}

BlockKey block_key(const void* data, size_t size) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
  BlockKey key;
  std::memcpy(key.bytes, canonical.digest, sizeof(key.bytes));
  return key;
}

BlockCache::BlockCache(fs::path dir) : dir_(std::move(dir)) {}

BlockCache::~BlockCache() {
  for (auto& p : packs_)
    if (int fd = p.fd.load(); fd >= 0) ::close(fd);
}

void BlockCache::open_shelf(const std::string& settings) {
  shelf_ = dir_ / sha256_hex(settings).substr(0, 16);
  std::error_code ec;
  // The settings file says what the shelf holds (for people; never read back).
  if (!fs::exists(shelf_ / "settings", ec)) {
    fs::create_directories(shelf_, ec);
    (void)write_file_atomic(shelf_ / "settings", settings + "\n");
  }
  std::vector<fs::path> indexes;
  for (auto it = fs::directory_iterator(shelf_ / kPacks, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".idx" && p.filename().string().rfind(kTempPrefix, 0) != 0)
      indexes.push_back(p);
  }
  // Names start with the time they were made: a later pack's entry wins.
  std::sort(indexes.begin(), indexes.end());
  for (const auto& index : indexes) {
    Pack& pack = packs_.emplace_back();
    pack.index = index;
    pack.data = fs::path(index).replace_extension(".pack");
    load_index(static_cast<uint32_t>(packs_.size() - 1));
  }
}

void BlockCache::load_index(uint32_t number) {
  Pack& pack = packs_[number];
  UniqueFd fd(::open(pack.index.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return;  // pruned meanwhile
  pack.index_mtime = st.st_mtime;
  std::string bytes(static_cast<size_t>(std::max<off_t>(st.st_size, 0)), '\0');
  if (::pread(fd.get(), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    return;
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < kIndexHeader || std::memcmp(b, kIndexMagic, sizeof(kIndexMagic)) != 0 ||
      get64(b + 8) != (bytes.size() - kIndexHeader) / kRecord ||
      (bytes.size() - kIndexHeader) % kRecord != 0 ||
      XXH3_64bits(b + kIndexHeader, bytes.size() - kIndexHeader) != get64(b + 16)) {
    spdlog::warn("block cache: the index {} is damaged; its pack is not used", pack.index.string());
    return;
  }
  pack.loaded = true;
  for (size_t at = kIndexHeader; at < bytes.size(); at += kRecord) {
    Location loc;
    BlockKey key;
    std::memcpy(key.bytes, b + at, sizeof(key.bytes));
    loc.pack = number;
    loc.offset = get64(b + at + 16);
    loc.length = get32(b + at + 24);
    loc.result = get32(b + at + 28);
    loc.input_size = get32(b + at + 32);
    loc.checksum = get64(b + at + 40);
    auto [it, added] = index_.try_emplace(key, loc);
    if (!added) {
      older_.emplace(key, it->second);
      it->second = loc;
    }
  }
}

int BlockCache::pack_fd(Pack& pack) {
  int fd = pack.fd.load();
  if (fd >= 0) return fd;
  int opened = ::open(pack.data.c_str(), O_RDONLY | O_CLOEXEC);
  if (opened < 0) return -1;  // pruned meanwhile, or out of descriptors: a miss
  int expected = -1;
  if (pack.fd.compare_exchange_strong(expected, opened)) return opened;
  ::close(opened);
  return expected;
}

void BlockCache::damaged(const std::string& where, const std::string& why) {
  damaged_ += 1;
  spdlog::warn("block cache: the entry at {} is damaged ({}); the block is compressed again", where,
               why);
}

std::optional<BlockCache::Entry> BlockCache::lookup(const BlockKey& key, uint32_t input_size,
                                                    std::vector<unsigned char>& buffer) {
  if (any_rejected_) {
    std::lock_guard lock(mutex_);
    if (rejected_.count(key)) return std::nullopt;
  }
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (auto e = read_entry(it->second, key, input_size, buffer)) return e;
  auto [from, to] = older_.equal_range(key);
  for (; from != to; ++from)
    if (auto e = read_entry(from->second, key, input_size, buffer)) return e;
  return std::nullopt;
}

std::optional<BlockCache::Entry> BlockCache::read_entry(const Location& loc, const BlockKey&,
                                                        uint32_t input_size,
                                                        std::vector<unsigned char>& buffer) {
  Pack& pack = packs_[loc.pack];
  // Only a damaged entry needs its place in words (not every hit).
  auto where = [&] { return pack.data.string() + " offset " + std::to_string(loc.offset); };
  // The index's word on the block must fit it: a payload is never larger
  // than the block, and is the block itself when it was kept as is.
  if (loc.input_size != input_size || loc.result > input_size ||
      loc.length != (loc.result ? loc.result : input_size)) {
    damaged(where(), "index record");
    return std::nullopt;
  }
  int fd = pack_fd(pack);
  if (fd < 0) return std::nullopt;
  if (buffer.size() < loc.length) buffer.resize(loc.length);
  size_t got = 0;
  while (got < loc.length) {
    ssize_t n =
        ::pread(fd, buffer.data() + got, loc.length - got, static_cast<off_t>(loc.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      damaged(where(), n == 0 ? "the pack is truncated" : std::strerror(errno));
      return std::nullopt;
    }
    got += static_cast<size_t>(n);
  }
  if (XXH3_64bits(buffer.data(), loc.length) != loc.checksum) {
    damaged(where(), "checksum");
    return std::nullopt;
  }
  pack.used = true;
  return Entry{loc.result,
               std::string_view(reinterpret_cast<const char*>(buffer.data()), loc.length),
               loc.checksum};
}

void BlockCache::reject(const BlockKey& key) {
  auto it = index_.find(key);
  damaged(it == index_.end() ? key.hex()
                             : packs_[it->second.pack].data.string() + " offset " +
                                   std::to_string(it->second.offset),
          "does not decompress to the block");
  std::lock_guard lock(mutex_);
  rejected_.insert(key);
  any_rejected_ = true;
}

void BlockCache::store_failed(const std::string& what, int err) {
  store_failed(what, std::string(std::strerror(err)));
}

void BlockCache::store_failed(const std::string& what, const std::string& why) {
  store_errors_ += 1;
  if (!warned_store_.exchange(true))
    spdlog::warn("block cache: cannot write {}: {} (the next build compresses these blocks again)",
                 what, why);
}

void BlockCache::remember(const BlockKey& key, uint32_t result, uint32_t input_size,
                          std::string_view payload, std::optional<uint64_t> checksum,
                          bool compressed) {
  const uint64_t sum = checksum ? *checksum : XXH3_64bits(payload.data(), payload.size());
  std::lock_guard lock(mutex_);
  pending_.try_emplace(PendingKey{sum, payload.size()},
                       Pending{key, result, input_size, compressed});
}

void BlockCache::written(uint64_t offset, const void* data, size_t size) {
  const uint64_t sum = XXH3_64bits(data, size);
  std::lock_guard lock(mutex_);
  auto it = pending_.find(PendingKey{sum, size});
  if (it == pending_.end()) return;  // metadata, or a block that was not compressed
  const Pending& p = it->second;
  records_.push_back(
      {p.key, offset, static_cast<uint32_t>(size), p.result, p.input_size, sum, p.compressed});
}

void BlockCache::truncated(uint64_t size) {
  std::lock_guard lock(mutex_);
  // Blocks written past the cut are gone (an earlier file had the same ones;
  // their first copy is recorded where it is).
  std::erase_if(records_, [&](const Record& r) { return r.offset + r.length > size; });
}

// The image becomes `pack`: a hard link to it, or a copy where the cache is
// on another file system (or links are refused).
bool BlockCache::place_image(int image_fd, const fs::path& pack) {
  std::string self = "/proc/self/fd/" + std::to_string(image_fd);
  if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, pack.c_str(), AT_SYMLINK_FOLLOW) == 0) return true;
  fs::path temp = pack.parent_path() / (kTempPrefix + pack.filename().string());
  UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) {
    store_failed(temp.string(), errno);
    return false;
  }
  struct stat st {};
  Result<void> copied = ::fstat(image_fd, &st) == 0
                            ? Result<void>(Ok{})
                            : errno_error(Errc::io, "cannot stat the image", errno);
  auto left = static_cast<uint64_t>(copied ? st.st_size : 0);
  loff_t from = 0, to = 0;
  while (left > 0) {
    ssize_t n = ::copy_file_range(image_fd, &from, out.get(), &to, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left -= static_cast<uint64_t>(n);
  }
  if (left > 0)  // not across these file systems: read and write the rest
    copied = stream_range(image_fd, static_cast<uint64_t>(from), left, pack,
                          [&](const char* data, size_t size, uint64_t at) {
                            return pwrite_all(out.get(), data, size, static_cast<uint64_t>(to) + at,
                                              temp);
                          });
  out.reset();
  if (copied && ::rename(temp.c_str(), pack.c_str()) != 0)
    copied = errno_error(Errc::io, "cannot rename " + temp.string(), errno);
  if (!copied) {
    store_failed(pack.string(), copied.error().message());
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

// Packs whose every block `records` (this build's pack) holds are not needed
// any more: removed, index first (a build that has one open reads on).
void BlockCache::remove_replaced(const std::vector<Record>& records) {
  std::unordered_set<BlockKey, BlockKeyHash> have;
  for (const auto& r : records) have.insert(r.key);
  std::vector<bool> needed(packs_.size(), false);
  for (const auto& [key, loc] : index_)
    if (!have.count(key)) needed[loc.pack] = true;
  for (const auto& [key, loc] : older_)
    if (!have.count(key)) needed[loc.pack] = true;
  for (size_t i = 0; i < packs_.size(); ++i) {
    if (needed[i] || !packs_[i].loaded) continue;
    // Another build may have replaced it first: count only what this one removed.
    if (::unlink(packs_[i].index.c_str()) == 0) replaced_ += 1;
    ::unlink(packs_[i].data.c_str());
  }
}

void BlockCache::commit(int image_fd) {
  std::lock_guard lock(mutex_);
  if (committed_) return;
  committed_ = true;
  // Packs this build took blocks from are recently used (their index's mtime).
  const int64_t now = std::time(nullptr);
  for (auto& p : packs_)
    if (p.used && now - p.index_mtime > kTouchAfter)
      ::utimensat(AT_FDCWD, p.index.c_str(), nullptr, 0);
  // One record per block: the first place the image holds it.
  std::stable_sort(records_.begin(), records_.end(), [](const Record& a, const Record& b) {
    return std::memcmp(a.key.bytes, b.key.bytes, sizeof(a.key.bytes)) < 0;
  });
  records_.erase(std::unique(records_.begin(), records_.end(),
                             [](const Record& a, const Record& b) { return a.key == b.key; }),
                 records_.end());
  if (records_.empty()) return;
  std::random_device random;
  char name[64];
  struct timespec clock {};
  ::clock_gettime(CLOCK_REALTIME, &clock);
  // The time first (to the nanosecond), so that names sort by age.
  std::snprintf(name, sizeof(name), "%010lld.%09ld-%d-%08x", static_cast<long long>(clock.tv_sec),
                clock.tv_nsec, static_cast<int>(::getpid()), static_cast<unsigned>(random()));
  const fs::path pack = shelf_ / kPacks / (std::string(name) + ".pack");
  std::error_code ec;
  fs::create_directories(pack.parent_path(), ec);
  // No fsync: a pack or index torn by a crash is found when read (sizes,
  // checksums) and costs recompression only.
  if (!place_image(image_fd, pack)) return;
  std::string index(kIndexHeader + records_.size() * kRecord, '\0');
  auto* b = reinterpret_cast<unsigned char*>(index.data());
  std::memcpy(b, kIndexMagic, sizeof(kIndexMagic));
  put64(b + 8, records_.size());
  size_t at = kIndexHeader;
  uint64_t stored = 0, stored_bytes = 0;
  for (const auto& r : records_) {
    std::memcpy(b + at, r.key.bytes, sizeof(r.key.bytes));
    put64(b + at + 16, r.offset);
    put32(b + at + 24, r.length);
    put32(b + at + 28, r.result);
    put32(b + at + 32, r.input_size);
    put64(b + at + 40, r.checksum);
    at += kRecord;
    if (r.compressed) {
      stored += 1;
      stored_bytes += r.length;
    }
  }
  put64(b + 16, XXH3_64bits(b + kIndexHeader, index.size() - kIndexHeader));
  fs::path final_index = fs::path(pack).replace_extension(".idx");
  fs::path temp = pack.parent_path() / (kTempPrefix + final_index.filename().string());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  bool written =
      fd && ::write(fd.get(), index.data(), index.size()) == static_cast<ssize_t>(index.size());
  int err = errno;
  fd.reset();
  if (!written || ::rename(temp.c_str(), final_index.c_str()) != 0) {
    store_failed(final_index.string(), written ? errno : err);
    ::unlink(temp.c_str());
    ::unlink(pack.c_str());
    return;
  }
  stored_ = stored;
  stored_bytes_ = stored_bytes;
  pack_blocks_ = records_.size();
  remove_replaced(records_);
}

BlockCacheStats BlockCache::stats() const {
  BlockCacheStats s;
  s.hits = hits_;
  s.hit_bytes = hit_bytes_;
  s.misses = misses_;
  s.stored = stored_;
  s.stored_bytes = stored_bytes_;
  s.pack_blocks = pack_blocks_;
  s.replaced = replaced_;
  s.damaged = damaged_;
  s.store_errors = store_errors_;
  return s;
}

Result<PruneResult> BlockCache::prune(uint64_t max_bytes) const {
  struct Files {
    struct stat pack {
    }, index{};
    bool has_pack = false, has_index = false;
  };
  std::map<std::string, Files> by_name;  // <shelf>/packs/<name> -> its pack and index
  PruneResult r;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return r;
  const time_t now = std::time(nullptr);
  auto disk = [](const struct stat& st) { return static_cast<uint64_t>(st.st_blocks) * 512; };
  for (auto shelf = fs::directory_iterator(dir_, ec); !ec && shelf != fs::end(shelf);
       shelf.increment(ec)) {
    fs::path packs = shelf->path() / kPacks;
    std::error_code ec2;
    for (auto it = fs::directory_iterator(packs, ec2); !ec2 && it != fs::end(it);
         it.increment(ec2)) {
      const fs::path& p = it->path();
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      std::string name = p.filename().string();
      if (name.rfind(kTempPrefix, 0) == 0) {  // an index being written, or a crash's leftover
        if (now - st.st_mtime > kLeftoverAge && ::unlink(p.c_str()) == 0) {
          r.removed += 1;
          r.removed_bytes += disk(st);
        }
        continue;
      }
      Files& f = by_name[(packs / p.stem()).string()];
      if (p.extension() == ".pack") {
        f.pack = st;
        f.has_pack = true;
      } else if (p.extension() == ".idx") {
        f.index = st;
        f.has_index = true;
      }
    }
  }
  if (ec)
    return Error(Errc::io, "cannot list the block cache " + dir_.string() + ": " + ec.message());
  struct Item {
    struct timespec used;
    uint64_t bytes;
    std::string name;
  };
  std::vector<Item> items;
  for (const auto& [name, f] : by_name) {
    uint64_t bytes = (f.has_pack ? disk(f.pack) : 0) + (f.has_index ? disk(f.index) : 0);
    if (!f.has_index || !f.has_pack) {
      // A pack still being written (a build running), or a stopped build's.
      const struct stat& st = f.has_pack ? f.pack : f.index;
      if (now - st.st_mtime > kLeftoverAge) {
        ::unlink((name + ".pack").c_str());
        ::unlink((name + ".idx").c_str());
        r.removed += 1;
        r.removed_bytes += bytes;
      }
      continue;
    }
    items.push_back({f.index.st_mtim, bytes, name});
    r.packs += 1;
    r.bytes += bytes;
  }
  if (r.bytes <= max_bytes) return r;
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.used.tv_sec != b.used.tv_sec) return a.used.tv_sec < b.used.tv_sec;
    if (a.used.tv_nsec != b.used.tv_nsec) return a.used.tv_nsec < b.used.tv_nsec;
    return a.name < b.name;
  });
  uint64_t left = r.bytes;
  for (const auto& item : items) {
    if (left <= max_bytes) break;
    // The index first: from then on no new build reads the pack (a build
    // that already has it open keeps reading it).
    ::unlink((item.name + ".idx").c_str());
    ::unlink((item.name + ".pack").c_str());
    left -= item.bytes;
    r.removed += 1;
    r.removed_bytes += item.bytes;
  }
  return r;
}

Result<uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return Error(Errc::invalid_argument,
                 "size '" + std::string(text) +
                     "' is not a number of bytes with an optional K, M, G or T (e.g. 4G)");
  };
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return bad();
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  if (unit == "B") unit = "";
  int shift = 0;
  if (!unit.empty()) {
    char u = static_cast<char>(unit[0] & ~0x20);
    std::string_view rest = unit.substr(1);
    if (!(rest.empty() || rest == "iB" || rest == "B")) return bad();
    shift = u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : u == 'T' ? 40 : -1;
    if (shift < 0) return bad();
  }
  if (shift && n > (UINT64_MAX >> shift)) return bad();
  return n << shift;
}

}  // namespace ef::squashfs
