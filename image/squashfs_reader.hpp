// Reads squashfs images back: `edgeforge inspect`, the ISO and disk
// builders (kernel files of an image) and the agent (kernel files out of a slot) use it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "image/node_type.hpp"
#include "util/error.hpp"

namespace ef::image {

/// One entry of an image, as stored.
struct ImageEntry {
  std::string path;  // "/" for the root, else "/etc/passwd"
  NodeType type = NodeType::regular;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  int64_t mtime = 0;
  uint64_t size = 0;
  std::string target;  // symlinks
  uint32_t rdev = 0;   // devices (Linux 32-bit encoding)
  uint32_t inode_number = 0;
  uint32_t nlink = 0;
  std::map<std::string, std::string> xattrs;
};

struct ImageInfo {
  std::string compression;
  uint32_t block_size = 0;
  uint32_t inode_count = 0;
  int64_t mod_time = 0;
  uint64_t bytes_used = 0;
};

class ImageReader {
 public:
  /// Opens the squashfs image at `path`, or the one `offset` bytes into it
  /// and at most `length` long (a partition of a disk image).
  static Result<std::unique_ptr<ImageReader>> open(const std::filesystem::path& path,
                                                   uint64_t offset = 0,
                                                   uint64_t length = UINT64_MAX);
  ~ImageReader();
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  ImageInfo info() const;
  /// Every entry, depth-first, children in name order.
  Result<std::vector<ImageEntry>> list();
  /// The directory `path` ("/boot") and the entries directly in it, in
  /// name order, without walking the rest of the image. Errors: `path` is
  /// missing or not a directory.
  Result<std::vector<ImageEntry>> list_dir(const std::string& path);
  /// Whether `path` exists in the image (symlinks are not followed).
  bool exists(const std::string& path);
  /// `path` with every symlink in it resolved inside the image (as if the
  /// image were the root directory). Errors: a missing component, a loop.
  Result<std::string> resolve(const std::string& path);
  /// Streams the content of the regular file at `path` (symlinks followed,
  /// inside the image) into `sink`.
  Result<void> read_file(const std::string& path,
                         const std::function<Result<void>(const void*, size_t)>& sink);
  /// Where the image's data blocks, fragment blocks and metadata tables
  /// start: sorted, each once, each below bytes_used. What a chunker cuts
  /// on so that a chunk never mixes two blocks (docs/bundle-format.md,
  /// "Chunk index"). Reads the inode and fragment tables, no file data.
  Result<std::vector<uint64_t>> block_starts();

 private:
  ImageReader();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ef::image
