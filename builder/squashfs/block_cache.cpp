#include "builder/squashfs/block_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
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
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::squashfs {

namespace fs = std::filesystem;

namespace {

// Entry header, little-endian (the build machine's order; the cache is
// local): magic, key, result, input size, XXH3-64 of the payload, reserved.
constexpr char kMagic[8] = {'E', 'F', 'B', 'L', 'K', '\1', '\0', '\0'};
constexpr size_t kHeader = 48;
// Index: magic, record count, XXH3-64 of the records, then per entry
// key (16), offset (8), length (4), reserved (4), sorted by key.
constexpr char kIndexMagic[8] = {'E', 'F', 'B', 'I', 'D', 'X', '\1', '\0'};
constexpr size_t kIndexHeader = 24;
constexpr size_t kRecord = 32;
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
  if (own_fd_ >= 0) ::close(own_fd_);
  if (!own_pack_.empty() && !committed_) ::unlink(own_pack_.c_str());
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
  for (size_t at = kIndexHeader; at < bytes.size(); at += kRecord) {
    Location loc;
    BlockKey key;
    std::memcpy(key.bytes, b + at, sizeof(key.bytes));
    loc.pack = number;
    loc.offset = get64(b + at + 16);
    loc.length = get32(b + at + 24);
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

std::optional<BlockCache::Entry> BlockCache::read_entry(const Location& loc, const BlockKey& key,
                                                        uint32_t input_size,
                                                        std::vector<unsigned char>& buffer) {
  Pack& pack = packs_[loc.pack];
  int fd = pack_fd(pack);
  if (fd < 0) return std::nullopt;
  // Only a damaged entry needs its place in words (not every hit).
  auto where = [&] { return pack.data.string() + " offset " + std::to_string(loc.offset); };
  // The payload is never larger than the block.
  if (loc.length < kHeader || loc.length > kHeader + input_size) {
    damaged(where(), "length " + std::to_string(loc.length));
    return std::nullopt;
  }
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
  const unsigned char* h = buffer.data();
  uint32_t result = get32(h + 24), stored_input = get32(h + 28);
  size_t payload = result ? result : stored_input;
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0 ||
      std::memcmp(h + 8, key.bytes, sizeof(key.bytes)) != 0 || stored_input != input_size ||
      kHeader + payload != loc.length) {
    damaged(where(), "header");
    return std::nullopt;
  }
  if (XXH3_64bits(h + kHeader, payload) != get64(h + 32)) {
    damaged(where(), "checksum");
    return std::nullopt;
  }
  pack.used = true;
  return Entry{result, std::string_view(reinterpret_cast<const char*>(h + kHeader), payload)};
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

void BlockCache::store_failed(int err) {
  store_errors_ += 1;
  if (!warned_store_.exchange(true))
    spdlog::warn("block cache: cannot write {}: {} (the build goes on without caching)",
                 own_pack_.string(), std::strerror(err));
}

void BlockCache::store(const BlockKey& key, uint32_t result, uint32_t input_size,
                       std::string_view payload) {
  int fd;
  {
    std::lock_guard lock(mutex_);
    if (own_pack_.empty()) {  // the first store makes the pack
      std::random_device random;
      char name[64];
      struct timespec now {};
      ::clock_gettime(CLOCK_REALTIME, &now);
      // The time first (to the nanosecond), so that names sort by age.
      std::snprintf(name, sizeof(name), "%010lld.%09ld-%d-%08x", static_cast<long long>(now.tv_sec),
                    now.tv_nsec, static_cast<int>(::getpid()), static_cast<unsigned>(random()));
      own_pack_ = shelf_ / kPacks / (std::string(name) + ".pack");
      std::error_code ec;
      fs::create_directories(own_pack_.parent_path(), ec);
      own_fd_ = ::open(own_pack_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (own_fd_ < 0) store_failed(errno);
    }
    fd = own_fd_;
  }
  if (fd < 0) return;
  unsigned char h[kHeader] = {};
  std::memcpy(h, kMagic, sizeof(kMagic));
  std::memcpy(h + 8, key.bytes, sizeof(key.bytes));
  put32(h + 24, result);
  put32(h + 28, input_size);
  put64(h + 32, XXH3_64bits(payload.data(), payload.size()));
  const uint32_t length = static_cast<uint32_t>(kHeader + payload.size());
  const uint64_t offset = own_size_.fetch_add(length);
  struct iovec parts[2] = {{h, kHeader}, {const_cast<char*>(payload.data()), payload.size()}};
  ssize_t n = ::pwritev(fd, parts, 2, static_cast<off_t>(offset));
  if (n != static_cast<ssize_t>(length)) return store_failed(n < 0 ? errno : ENOSPC);
  stored_ += 1;
  stored_bytes_ += length;
  std::lock_guard lock(mutex_);
  own_records_.push_back({key, offset, length});
}

void BlockCache::commit() {
  std::lock_guard lock(mutex_);
  if (committed_) return;
  committed_ = true;
  // Packs this build took blocks from are recently used (their index's mtime).
  const int64_t now = std::time(nullptr);
  for (auto& p : packs_)
    if (p.used && now - p.index_mtime > kTouchAfter)
      ::utimensat(AT_FDCWD, p.index.c_str(), nullptr, 0);
  if (own_pack_.empty()) return;
  // No fsync: a pack or index torn by a crash is found when read (header,
  // checksums) and costs recompression only.
  bool closed = own_fd_ < 0 || ::close(own_fd_) == 0;
  own_fd_ = -1;
  if (own_records_.empty() || !closed) {
    ::unlink(own_pack_.c_str());
    return;
  }
  std::sort(own_records_.begin(), own_records_.end(), [](const Record& a, const Record& b) {
    return std::memcmp(a.key.bytes, b.key.bytes, sizeof(a.key.bytes)) < 0;
  });
  own_records_.erase(std::unique(own_records_.begin(), own_records_.end(),
                                 [](const Record& a, const Record& b) { return a.key == b.key; }),
                     own_records_.end());
  std::string index(kIndexHeader + own_records_.size() * kRecord, '\0');
  auto* b = reinterpret_cast<unsigned char*>(index.data());
  std::memcpy(b, kIndexMagic, sizeof(kIndexMagic));
  put64(b + 8, own_records_.size());
  size_t at = kIndexHeader;
  for (const auto& r : own_records_) {
    std::memcpy(b + at, r.key.bytes, sizeof(r.key.bytes));
    put64(b + at + 16, r.offset);
    put32(b + at + 24, r.length);
    at += kRecord;
  }
  put64(b + 16, XXH3_64bits(b + kIndexHeader, index.size() - kIndexHeader));
  fs::path final_index = fs::path(own_pack_).replace_extension(".idx");
  fs::path temp = own_pack_.parent_path() / (kTempPrefix + final_index.filename().string());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  bool written =
      fd && ::write(fd.get(), index.data(), index.size()) == static_cast<ssize_t>(index.size());
  fd.reset();
  if (!written || ::rename(temp.c_str(), final_index.c_str()) != 0) {
    store_failed(errno);
    ::unlink(temp.c_str());
    ::unlink(own_pack_.c_str());
  }
}

BlockCacheStats BlockCache::stats() const {
  BlockCacheStats s;
  s.hits = hits_;
  s.hit_bytes = hit_bytes_;
  s.misses = misses_;
  s.stored = stored_;
  s.stored_bytes = stored_bytes_;
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
