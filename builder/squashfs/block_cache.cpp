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
constexpr const char* kTempPrefix = ".tmp-";
// An entry used within this long is not touched again (its mtime is the
// LRU clock); saves a metadata write per hit on back-to-back builds.
constexpr time_t kTouchAfter = 3600;

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

BlockKey block_key(const void* data, size_t size) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, size));
  BlockKey key;
  std::memcpy(key.bytes, canonical.digest, sizeof(key.bytes));
  return key;
}

fs::path BlockCache::shelf(const std::string& settings) const {
  fs::path path = dir_ / sha256_hex(settings).substr(0, 16);
  // The settings file says what the shelf holds (for people; never read back).
  std::error_code ec;
  if (!fs::exists(path / "settings", ec)) {
    fs::create_directories(path, ec);
    (void)write_file_atomic(path / "settings", settings + "\n");
  }
  return path;
}

fs::path BlockCache::entry_path(const fs::path& shelf, const BlockKey& key) const {
  std::string name = key.hex();
  return shelf / name.substr(0, 2) / name;
}

void BlockCache::remove_damaged(const fs::path& path, const std::string& why) {
  damaged_ += 1;
  spdlog::warn("block cache: {} is damaged ({}); removed, the block is compressed again",
               path.string(), why);
  ::unlink(path.c_str());
}

std::optional<BlockCache::Entry> BlockCache::lookup(const fs::path& shelf, const BlockKey& key,
                                                    uint32_t input_size,
                                                    std::vector<unsigned char>& buffer) {
  fs::path path = entry_path(shelf, key);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;  // not there (or removed by a prune meanwhile)
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::nullopt;
  // The payload is never larger than the block.
  if (st.st_size < static_cast<off_t>(kHeader) ||
      st.st_size > static_cast<off_t>(kHeader + input_size)) {
    remove_damaged(path, "size " + std::to_string(st.st_size));
    return std::nullopt;
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (buffer.size() < size) buffer.resize(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd.get(), buffer.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      remove_damaged(path, "cannot be read");
      return std::nullopt;
    }
    got += static_cast<size_t>(n);
  }
  const unsigned char* h = buffer.data();
  uint32_t result = get32(h + 24), stored_input = get32(h + 28);
  size_t payload = result ? result : stored_input;
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0 ||
      std::memcmp(h + 8, key.bytes, sizeof(key.bytes)) != 0 || stored_input != input_size ||
      kHeader + payload != size) {
    remove_damaged(path, "header");
    return std::nullopt;
  }
  if (XXH3_64bits(h + kHeader, payload) != get64(h + 32)) {
    remove_damaged(path, "checksum");
    return std::nullopt;
  }
  if (std::time(nullptr) - st.st_mtime > kTouchAfter) ::futimens(fd.get(), nullptr);
  return Entry{result, std::string_view(reinterpret_cast<const char*>(h + kHeader), payload)};
}

void BlockCache::reject(const fs::path& shelf, const BlockKey& key) {
  remove_damaged(entry_path(shelf, key), "does not decompress to the block");
}

void BlockCache::store(const fs::path& shelf, const BlockKey& key, uint32_t result,
                       uint32_t input_size, std::string_view payload) {
  fs::path path = entry_path(shelf, key);
  unsigned char h[kHeader] = {};
  std::memcpy(h, kMagic, sizeof(kMagic));
  std::memcpy(h + 8, key.bytes, sizeof(key.bytes));
  put32(h + 24, result);
  put32(h + 28, input_size);
  put64(h + 32, XXH3_64bits(payload.data(), payload.size()));
  fs::path temp = path.parent_path() / (kTempPrefix + std::to_string(::getpid()) + "-" +
                                        std::to_string(temp_counter_++));
  auto fail = [&](int err) {
    store_errors_ += 1;
    if (!warned_store_.exchange(true))
      spdlog::warn("block cache: cannot write {}: {} (the build goes on without caching it)",
                   path.string(), std::strerror(err));
  };
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  int fd = ::open(temp.c_str(), flags, 0644);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(temp.parent_path(), ec);
    fd = ::open(temp.c_str(), flags, 0644);
  }
  if (fd < 0) return fail(errno);
  struct iovec parts[2] = {{h, kHeader}, {const_cast<char*>(payload.data()), payload.size()}};
  ssize_t want = static_cast<ssize_t>(kHeader + payload.size());
  ssize_t n = ::writev(fd, parts, 2);
  int err = n < 0 ? errno : ENOSPC;  // a short write: the disk is full
  bool closed = ::close(fd) == 0;
  // No fsync: a torn entry after a crash is found by lookup and replaced.
  if (n != want || !closed || ::rename(temp.c_str(), path.c_str()) != 0) {
    if (n == want) err = errno;
    ::unlink(temp.c_str());
    return fail(err);
  }
  stored_ += 1;
  stored_bytes_ += static_cast<uint64_t>(want);
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
  struct Item {
    struct timespec mtime;
    uint64_t bytes;
    fs::path path;
  };
  std::vector<Item> items;
  PruneResult r;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return r;
  time_t now = std::time(nullptr);
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it.depth() != 2) continue;  // <shelf>/<2 hex>/<entry>
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    uint64_t bytes = static_cast<uint64_t>(st.st_blocks) * 512;
    if (it->path().filename().string().rfind(kTempPrefix, 0) == 0) {
      // Another build's entry being written, or a crashed build's leftover.
      if (now - st.st_mtime > 3600 && ::unlink(it->path().c_str()) == 0) {
        r.removed += 1;
        r.removed_bytes += bytes;
      }
      continue;
    }
    items.push_back({st.st_mtim, bytes, it->path()});
    r.entries += 1;
    r.bytes += bytes;
  }
  if (ec)
    return Error(Errc::io, "cannot list the block cache " + dir_.string() + ": " + ec.message());
  if (r.bytes <= max_bytes) return r;
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
    if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec < b.mtime.tv_nsec;
    return a.path < b.path;
  });
  uint64_t left = r.bytes;
  for (const auto& item : items) {
    if (left <= max_bytes) break;
    // Gone already (another prune) counts as removed: the space is free.
    if (::unlink(item.path.c_str()) == 0 || errno == ENOENT) {
      left -= item.bytes;
      r.removed += 1;
      r.removed_bytes += item.bytes;
    }
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
