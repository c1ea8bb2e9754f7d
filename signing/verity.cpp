#include "signing/verity.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "util/file_io.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::signing {
namespace {

constexpr size_t kDigestSize = 32;       // sha256
constexpr size_t kReadChunk = 1 << 20;   // a multiple of every valid block size
constexpr size_t kMaxSaltBytes = 256;    // what veritysetup accepts
constexpr uint32_t kMinBlockSize = 512;  // the kernel's and veritysetup's limits
constexpr uint32_t kMaxBlockSize = 512 * 1024;
constexpr const char* kSaltPrefix = "edgeforge-verity-salt:";

// ---- hex -------------------------------------------------------------------

std::string to_hex(const uint8_t* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::vector<uint8_t>> from_hex(std::string_view hex, const char* what) {
  if (hex.size() % 2 != 0) {
    return Error(Errc::invalid_argument, std::string(what) + " has an odd number of hex digits");
  }
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Error(Errc::invalid_argument, std::string(what) + " is not hex: " + std::string(hex));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

// ---- hashing ---------------------------------------------------------------

/// sha256(salt || block), the digest of hash format version 1. One context is
/// reused for every block: creating one per block costs more than hashing 4 KiB.
class BlockHasher {
 public:
  static Result<BlockHasher> create(std::vector<uint8_t> salt) {
    // An explicit fetch avoids OpenSSL's per-init implicit algorithm lookup.
    std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md(EVP_MD_fetch(nullptr, "SHA256", nullptr),
                                                       &EVP_MD_free);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!md || !ctx) return Error(Errc::internal, "OpenSSL has no SHA-256");
    return BlockHasher(std::move(md), std::move(ctx), std::move(salt));
  }

  /// Writes the kDigestSize-byte digest of `size` bytes at `block` to `out`.
  void digest(const uint8_t* block, size_t size, uint8_t* out) {
    EVP_DigestInit_ex2(ctx_.get(), md_.get(), nullptr);
    EVP_DigestUpdate(ctx_.get(), salt_.data(), salt_.size());
    EVP_DigestUpdate(ctx_.get(), block, size);
    EVP_DigestFinal_ex(ctx_.get(), out, nullptr);
  }

 private:
  BlockHasher(std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md,
              std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx,
              std::vector<uint8_t> salt)
      : md_(std::move(md)), ctx_(std::move(ctx)), salt_(std::move(salt)) {}

  std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md_;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
  std::vector<uint8_t> salt_;
};

// ---- geometry --------------------------------------------------------------

/// Where each level of the tree lives. Level 0 hashes the data blocks; the
/// top level is one block. On disk the top level comes first (the kernel's
/// and veritysetup's layout), so levels are stored in reverse.
struct Layout {
  uint32_t data_block_size = 0;
  uint32_t hash_block_size = 0;
  uint64_t data_blocks = 0;
  size_t slot_size = 0;                // bytes per digest slot in a hash block
  std::vector<uint64_t> level_blocks;  // hash blocks per level, level 0 first
  std::vector<uint64_t> level_start;   // first block of each level in the tree
  uint64_t tree_blocks = 0;

  size_t levels() const { return level_blocks.size(); }
  uint64_t tree_bytes() const { return tree_blocks * hash_block_size; }
  uint64_t level_offset(size_t level) const { return level_start[level] * hash_block_size; }
  /// Byte offset in the tree of the digest slot for `index` at `level`.
  uint64_t slot_offset(size_t level, uint64_t index) const {
    return level_offset(level) + index * slot_size;
  }
};

bool valid_block_size(uint32_t size) {
  return size >= kMinBlockSize && size <= kMaxBlockSize && (size & (size - 1)) == 0;
}

Result<void> check_block_sizes(uint32_t data_block_size, uint32_t hash_block_size) {
  if (!valid_block_size(data_block_size) || !valid_block_size(hash_block_size)) {
    return Error(Errc::invalid_argument,
                 "verity block sizes must be powers of two from 512 to 524288 bytes (got " +
                     std::to_string(data_block_size) + " and " + std::to_string(hash_block_size) +
                     ")");
  }
  return Ok{};
}

Layout make_layout(uint32_t data_block_size, uint32_t hash_block_size, uint64_t data_blocks) {
  Layout l;
  l.data_block_size = data_block_size;
  l.hash_block_size = hash_block_size;
  l.data_blocks = data_blocks;
  // Hash blocks hold a power of two of slots; version 1 pads each slot so
  // the slots fill the block exactly (32 bytes for sha256 either way).
  unsigned bits = 0;
  while ((hash_block_size / kDigestSize) >> (bits + 1)) ++bits;
  l.slot_size = hash_block_size >> bits;
  // Same count as the kernel: the levels needed to address data_blocks - 1,
  // so a single data block has no tree and its digest is the root hash.
  for (size_t level = 0; bits * level < 64 && ((data_blocks - 1) >> (bits * level)) != 0; ++level) {
    unsigned shift = bits * static_cast<unsigned>(level + 1);
    uint64_t blocks = shift >= 64 ? 1 : ((data_blocks - 1) >> shift) + 1;
    l.level_blocks.push_back(blocks);
  }
  l.level_start.resize(l.levels());
  for (size_t level = l.levels(); level-- > 0;) {
    l.level_start[level] = l.tree_blocks;
    l.tree_blocks += l.level_blocks[level];
  }
  return l;
}

// ---- file access -----------------------------------------------------------

Result<UniqueFd> open_file(const std::filesystem::path& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (!fd) {
    int err = errno;
    return errno_error(err == ENOENT ? Errc::not_found : Errc::io, "cannot open " + path.string(),
                       err);
  }
  return fd;
}

Result<struct stat> stat_fd(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error(Errc::io, "cannot stat " + path.string(), errno);
  return st;
}

// ---- building --------------------------------------------------------------

/// The documented default: sha256("edgeforge-verity-salt:" + sha256 hex of
/// the data), so the same image always gets the same tree and root hash.
Result<std::vector<uint8_t>> default_salt(int fd, uint64_t length,
                                          const std::filesystem::path& path) {
  Sha256 image;
  EF_TRY(stream_range(fd, 0, length, path, [&](const char* p, size_t n, uint64_t) -> Result<void> {
    image.update(p, n);
    return Ok{};
  }));
  return from_hex(default_verity_salt_hex(image.hex_digest()), "salt");
}

Result<std::vector<uint8_t>> choose_salt(const VerityParams& params, int fd, uint64_t length,
                                         const std::filesystem::path& path) {
  if (params.salt_hex.empty()) return default_salt(fd, length, path);
  EF_ASSIGN(auto salt, from_hex(params.salt_hex, "verity salt"));
  if (salt.size() > kMaxSaltBytes) {
    return Error(Errc::invalid_argument, "verity salt is longer than 256 bytes");
  }
  return salt;
}

/// Hashes every data block into level 0 (or, with no levels, into `root`).
Result<void> hash_data(int fd, const Layout& l, const std::filesystem::path& path,
                       BlockHasher& hasher, std::vector<uint8_t>& tree, uint8_t* root) {
  uint64_t length = l.data_blocks * l.data_block_size;
  return stream_range(fd, 0, length, path, [&](const char* chunk, size_t n, uint64_t offset) {
    const auto* p = reinterpret_cast<const uint8_t*>(chunk);
    uint64_t block = offset / l.data_block_size;
    for (size_t pos = 0; pos < n; pos += l.data_block_size, ++block) {
      uint8_t* out = l.levels() == 0 ? root : tree.data() + l.slot_offset(0, block);
      hasher.digest(p + pos, l.data_block_size, out);
    }
    return Result<void>(Ok{});
  });
}

/// Fills levels 1.. from the level below, then the root from the top block.
void hash_levels(const Layout& l, BlockHasher& hasher, std::vector<uint8_t>& tree, uint8_t* root) {
  if (l.levels() == 0) return;
  for (size_t level = 1; level < l.levels(); ++level) {
    for (uint64_t b = 0; b < l.level_blocks[level - 1]; ++b) {
      const uint8_t* block = tree.data() + l.level_offset(level - 1) + b * l.hash_block_size;
      hasher.digest(block, l.hash_block_size, tree.data() + l.slot_offset(level, b));
    }
  }
  hasher.digest(tree.data() + l.level_offset(l.levels() - 1), l.hash_block_size, root);
}

/// How many bytes of `data_fd` are data: the whole file, or when the tree
/// goes into the same file, everything before `hash_offset`.
Result<uint64_t> data_length(int data_fd, int tree_fd, uint64_t hash_offset,
                             const std::filesystem::path& data, const std::filesystem::path& tree) {
  EF_ASSIGN(struct stat ds, stat_fd(data_fd, data));
  EF_ASSIGN(struct stat ts, stat_fd(tree_fd, tree));
  uint64_t size = static_cast<uint64_t>(ds.st_size);
  if (S_ISBLK(ds.st_mode)) {  // a slot: st_size is 0, the device's size is its end
    off_t end = ::lseek(data_fd, 0, SEEK_END);
    if (end < 0) return errno_error(Errc::io, "cannot size " + data.string(), errno);
    size = static_cast<uint64_t>(end);
  }
  bool same_file = ds.st_dev == ts.st_dev && ds.st_ino == ts.st_ino;
  return same_file ? std::min(size, hash_offset) : size;
}

Result<uint64_t> count_data_blocks(uint64_t length, uint32_t block_size,
                                   const std::filesystem::path& data) {
  if (length == 0) {
    return Error(Errc::invalid_argument,
                 data.string() + ": cannot build a verity tree over empty data");
  }
  if (length % block_size != 0) {
    return Error(Errc::invalid_argument, data.string() + ": size " + std::to_string(length) +
                                             " is not a multiple of the verity data block size " +
                                             std::to_string(block_size) + "; pad the image first");
  }
  return length / block_size;
}

Result<void> check_hash_offset(uint64_t hash_offset, uint32_t hash_block_size) {
  // The kernel takes the tree's start in hash blocks, so it must be aligned.
  if (hash_offset % hash_block_size != 0) {
    return Error(Errc::invalid_argument, "verity hash offset " + std::to_string(hash_offset) +
                                             " is not a multiple of the hash block size " +
                                             std::to_string(hash_block_size));
  }
  return Ok{};
}

// ---- verifying -------------------------------------------------------------

Error mismatch(const std::string& what) {
  return Error(Errc::checksum, what + " does not match the verity tree");
}

std::string hash_block_name(const Layout& l, size_t level, uint64_t block, uint64_t hash_offset) {
  uint64_t offset = hash_offset + l.level_offset(level) + block * l.hash_block_size;
  return "hash block " + std::to_string(l.level_start[level] + block) + " (level " +
         std::to_string(level) + ", byte offset " + std::to_string(offset) + ")";
}

/// Reads consecutive digest slots (one per block of the level below) through
/// a small buffer, so checking a level never holds more than a chunk.
class SlotReader {
 public:
  SlotReader(int fd, uint64_t first_slot_offset, size_t slot_size, uint64_t slots,
             const std::filesystem::path& path)
      : fd_(fd), base_(first_slot_offset), slot_size_(slot_size), slots_(slots), path_(path) {}

  /// The digest in slot `index` (< the slot count); reads ahead in order.
  Result<const uint8_t*> get(uint64_t index) {
    if (index < first_ || index >= first_ + buffered_) {
      buffered_ = std::min<uint64_t>(kSlotsPerRead, slots_ - index);
      first_ = index;
      buf_.resize(buffered_ * slot_size_);
      EF_TRY(pread_all(fd_, buf_.data(), buf_.size(), base_ + index * slot_size_, path_));
    }
    return buf_.data() + (index - first_) * slot_size_;
  }

 private:
  static constexpr uint64_t kSlotsPerRead = 4096;

  int fd_;
  uint64_t base_;
  size_t slot_size_;
  uint64_t slots_;
  const std::filesystem::path& path_;
  std::vector<uint8_t> buf_;
  uint64_t first_ = 0, buffered_ = 0;
};

/// Where the blocks being checked live and what to call them in errors.
struct BlockRun {
  int fd = -1;
  uint64_t offset = 0;  // of the first block in the file
  uint64_t blocks = 0;
  uint32_t block_size = 0;
  const std::filesystem::path* path = nullptr;
  std::function<std::string(uint64_t)> name;  // describes block i
};

/// Hashes each block of `run` and compares it with consecutive slots.
Result<void> check_run(const BlockRun& run, BlockHasher& hasher, SlotReader& slots,
                       std::vector<uint8_t>& buf) {
  uint64_t per_read = buf.size() / run.block_size;
  uint8_t digest[kDigestSize];
  for (uint64_t first = 0; first < run.blocks; first += per_read) {
    uint64_t n = std::min(per_read, run.blocks - first);
    EF_TRY(pread_all(run.fd, buf.data(), n * run.block_size, run.offset + first * run.block_size,
                     *run.path));
    for (uint64_t i = 0; i < n; ++i) {
      hasher.digest(buf.data() + i * run.block_size, run.block_size, digest);
      EF_ASSIGN(const uint8_t* want, slots.get(first + i));
      if (std::memcmp(digest, want, kDigestSize) != 0) return mismatch(run.name(first + i));
    }
  }
  return Ok{};
}

/// Checks the tree top down (root, then each level against the one above),
/// then the data against level 0. Reads through fixed-size buffers: memory
/// does not grow with the image or with what `info` claims.
Result<void> verify_streaming(int data_fd, uint64_t data_base, int tree_fd, uint64_t tree_base,
                              const Layout& l, const VerityInfo& info, BlockHasher& hasher,
                              const std::vector<uint8_t>& root, const std::filesystem::path& data,
                              const std::filesystem::path& tree) {
  uint64_t hash_base = tree_base + info.hash_offset;
  // One read buffer for every level and the data (block sizes divide it).
  std::vector<uint8_t> buf(
      std::max<size_t>(kReadChunk, std::max(l.hash_block_size, l.data_block_size)));
  if (l.levels() > 0) {
    size_t top = l.levels() - 1;
    std::vector<uint8_t> block(l.hash_block_size);
    uint8_t digest[kDigestSize];
    EF_TRY(pread_all(tree_fd, block.data(), block.size(), hash_base + l.level_offset(top), tree));
    hasher.digest(block.data(), block.size(), digest);
    if (std::memcmp(digest, root.data(), kDigestSize) != 0) {
      return mismatch(hash_block_name(l, top, 0, info.hash_offset) + " (root hash)");
    }
    for (size_t level = top; level-- > 0;) {
      SlotReader slots(tree_fd, hash_base + l.slot_offset(level + 1, 0), l.slot_size,
                       l.level_blocks[level], tree);
      BlockRun run{
          tree_fd,
          hash_base + l.level_offset(level),
          l.level_blocks[level],
          l.hash_block_size,
          &tree,
          [&, level](uint64_t b) { return hash_block_name(l, level, b, info.hash_offset); }};
      EF_TRY(check_run(run, hasher, slots, buf));
    }
  }
  ::posix_fadvise(data_fd, static_cast<off_t>(data_base),
                  static_cast<off_t>(l.data_blocks * l.data_block_size), POSIX_FADV_SEQUENTIAL);
  BlockRun run{data_fd, data_base, l.data_blocks, l.data_block_size, &data, [&](uint64_t b) {
                 return data.string() + ": data block " + std::to_string(b) + " (byte offset " +
                        std::to_string(b * l.data_block_size) + ")";
               }};
  if (l.levels() == 0) {
    // One data block: its digest is the root hash.
    std::vector<uint8_t> block(l.data_block_size);
    uint8_t digest[kDigestSize];
    EF_TRY(pread_all(data_fd, block.data(), block.size(), data_base, data));
    hasher.digest(block.data(), block.size(), digest);
    if (std::memcmp(digest, root.data(), kDigestSize) != 0) return mismatch(run.name(0));
    return Ok{};
  }
  SlotReader slots(tree_fd, hash_base + l.slot_offset(0, 0), l.slot_size, l.data_blocks, tree);
  return check_run(run, hasher, slots, buf);
}

Result<Layout> layout_from_info(const VerityInfo& info) {
  if (info.algorithm != "sha256") {
    return Error(Errc::invalid_argument, "unsupported verity hash algorithm: " + info.algorithm);
  }
  EF_TRY(check_block_sizes(info.data_block_size, info.hash_block_size));
  EF_TRY(check_hash_offset(info.hash_offset, info.hash_block_size));
  if (info.data_blocks == 0) return Error(Errc::invalid_argument, "verity info has no data blocks");
  Layout l = make_layout(info.data_block_size, info.hash_block_size, info.data_blocks);
  if (l.tree_bytes() != info.tree_size) {
    return Error(Errc::invalid_argument, "verity tree size " + std::to_string(info.tree_size) +
                                             " does not match " + std::to_string(l.tree_bytes()) +
                                             " expected for " + std::to_string(info.data_blocks) +
                                             " data blocks");
  }
  return l;
}

}  // namespace

std::string default_verity_salt_hex(const std::string& image_sha256_hex) {
  return sha256_hex(kSaltPrefix + image_sha256_hex);
}

uint64_t verity_tree_size(uint64_t data_blocks, uint32_t hash_block_size) {
  if (data_blocks == 0) return 0;
  return make_layout(/*data_block_size=*/4096, hash_block_size, data_blocks).tree_bytes();
}

Result<VerityInfo> build_verity_tree(const std::filesystem::path& data,
                                     const std::filesystem::path& tree, uint64_t hash_offset,
                                     const VerityParams& params) {
  EF_TRY(check_block_sizes(params.data_block_size, params.hash_block_size));
  EF_TRY(check_hash_offset(hash_offset, params.hash_block_size));
  EF_ASSIGN(UniqueFd data_fd, open_file(data, O_RDONLY));
  EF_ASSIGN(UniqueFd tree_fd, open_file(tree, O_WRONLY | O_CREAT));
  EF_ASSIGN(uint64_t length, data_length(data_fd.get(), tree_fd.get(), hash_offset, data, tree));
  EF_ASSIGN(uint64_t data_blocks, count_data_blocks(length, params.data_block_size, data));
  EF_ASSIGN(auto salt, choose_salt(params, data_fd.get(), length, data));

  Layout l = make_layout(params.data_block_size, params.hash_block_size, data_blocks);
  VerityInfo info;
  info.data_block_size = l.data_block_size;
  info.hash_block_size = l.hash_block_size;
  info.data_blocks = data_blocks;
  info.salt_hex = to_hex(salt.data(), salt.size());
  info.hash_offset = hash_offset;
  info.tree_size = l.tree_bytes();

  EF_ASSIGN(auto hasher, BlockHasher::create(std::move(salt)));
  std::vector<uint8_t> bytes(l.tree_bytes());  // zeroes: the padding of every hash block
  uint8_t root[kDigestSize];
  EF_TRY(hash_data(data_fd.get(), l, data, hasher, bytes, root));
  hash_levels(l, hasher, bytes, root);
  EF_TRY(pwrite_all(tree_fd.get(), bytes.data(), bytes.size(), hash_offset, tree));
  info.root_hash_hex = to_hex(root, kDigestSize);
  return info;
}

Result<void> verify_verity_tree(const std::filesystem::path& data,
                                const std::filesystem::path& tree, const VerityInfo& info) {
  EF_ASSIGN(UniqueFd data_fd, open_file(data, O_RDONLY));
  EF_ASSIGN(UniqueFd tree_fd, open_file(tree, O_RDONLY));
  return verify_verity_fds(data_fd.get(), 0, tree_fd.get(), 0, info, data, tree);
}

Result<void> verify_verity_fds(int data_fd, uint64_t data_base, int tree_fd, uint64_t tree_base,
                               const VerityInfo& info, const std::filesystem::path& data_name,
                               const std::filesystem::path& tree_name) {
  EF_ASSIGN(Layout l, layout_from_info(info));
  EF_ASSIGN(auto salt, from_hex(info.salt_hex, "verity salt"));
  if (salt.size() > kMaxSaltBytes) {
    return Error(Errc::invalid_argument, "verity salt is longer than 256 bytes");
  }
  EF_ASSIGN(auto root, from_hex(info.root_hash_hex, "verity root hash"));
  if (root.size() != kDigestSize) {
    return Error(Errc::invalid_argument, "verity root hash is not a sha256 digest");
  }
  EF_ASSIGN(auto hasher, BlockHasher::create(std::move(salt)));
  return verify_streaming(data_fd, data_base, tree_fd, tree_base, l, info, hasher, root, data_name,
                          tree_name);
}

}  // namespace ef::signing
