// dm-verity hash trees, generated in-process, in the kernel's format (hash
// format version 1, as `veritysetup format` makes with its defaults except
// that the salt is derived from the image so the tree is reproducible).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "util/error.hpp"

namespace ef::signing {

struct VerityParams {
  uint32_t data_block_size = 4096;
  uint32_t hash_block_size = 4096;
  // Up to 256 bytes as hex (32 by convention); empty: derived from the image,
  // see build_verity_tree.
  std::string salt_hex;
};

/// What a verifier needs to check the data against the tree.
struct VerityInfo {
  std::string algorithm = "sha256";
  uint32_t data_block_size = 4096;
  uint32_t hash_block_size = 4096;
  uint64_t data_blocks = 0;
  std::string salt_hex;
  std::string root_hash_hex;
  uint64_t hash_offset = 0;  // where the tree starts in the file it was written to
  uint64_t tree_size = 0;    // bytes of hash tree (all levels)
};

/// The default salt (hex) of an image whose sha256 is `image_sha256_hex`:
/// sha256("edgeforge-verity-salt:" + that hex). Callers that know the
/// image's digest pass it as VerityParams::salt_hex and save a read.
std::string default_verity_salt_hex(const std::string& image_sha256_hex);

/// The size in bytes of the tree build_verity_tree makes for `data_blocks`
/// data blocks and `hash_block_size` hash blocks (0 for one block), without
/// building it: a device finds where a slot's tree ends with it.
uint64_t verity_tree_size(uint64_t data_blocks, uint32_t hash_block_size = 4096);

/// Computes the hash tree of `data` (its size must be a multiple of the data
/// block size) and writes it to `tree` starting at `hash_offset` (pass the
/// data file itself and its size to append the tree to the image). Reads
/// the data streaming (once, twice with the default salt); memory is
/// bounded by the tree size.
///
/// - Default salt (params.salt_hex empty): the 32 bytes
///   sha256("edgeforge-verity-salt:" + lower-case sha256 hex of the data), so
///   the same image always gets the same tree and root hash. Deriving it costs
///   one extra streaming pass over the data.
/// - When `tree` is the data file itself, the data is the part before
///   `hash_offset` (or the whole file if shorter), so building again
///   rewrites the same tree in place.
/// - `hash_offset` must be a multiple of the hash block size (the kernel
///   addresses the tree in hash blocks); block sizes are powers of two from
///   512 to 512 KiB. Empty data is Errc::invalid_argument (dm-verity and
///   veritysetup have no tree for it), as is a size that is not a multiple
///   of the data block size.
/// - One data block needs no tree (tree_size 0): as in the kernel, the root
///   hash is then sha256(salt || block).
/// - `tree` is created if missing and written with pwrite, not truncated,
///   not fsynced: publishing it atomically is the caller's job.
Result<VerityInfo> build_verity_tree(const std::filesystem::path& data,
                                     const std::filesystem::path& tree, uint64_t hash_offset,
                                     const VerityParams& params = {});

/// Re-reads `data` and `tree` and checks every block against `info`.
/// A mismatch is Errc::checksum naming the first bad block (hash blocks are
/// checked top down before the data); a file too short for `info` is
/// Errc::io and parameters that do not fit together are
/// Errc::invalid_argument. The data file may be longer (an appended tree).
Result<void> verify_verity_tree(const std::filesystem::path& data,
                                const std::filesystem::path& tree, const VerityInfo& info);

/// The same check on open files: the data starts at byte `data_base` of
/// `data_fd` and the tree at `tree_base + info.hash_offset` of `tree_fd`
/// (e.g. both inside one bundle file). Reads through fixed-size buffers, so
/// memory stays bounded whatever `info` claims. The names appear in errors.
Result<void> verify_verity_fds(int data_fd, uint64_t data_base, int tree_fd, uint64_t tree_base,
                               const VerityInfo& info, const std::filesystem::path& data_name,
                               const std::filesystem::path& tree_name);

}  // namespace ef::signing
