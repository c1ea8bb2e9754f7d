// The in-memory tree every layer is merged into. Metadata only: a regular
// file's bytes stay in its input and are streamed to the image writer later
// (see DataRef), so memory grows with entry count, never with file size.
//
// Semantics (docs/layers.md has the user-facing version):
// - Paths are relative to the image root; a leading "/" or "./" is dropped;
//   ".." components and names longer than 255 bytes are errors.
// - Later entries win: a non-directory replaces whatever was at its path
//   (a replaced directory loses its subtree); a directory over a directory
//   updates the metadata and keeps the children.
// - Symlinks are never followed. An entry below a path that is a symlink, a
//   file or a device is an error naming both entries.
// - Hard links share one Inode; the target must already be in the tree and
//   must not be a directory.
// - Whiteouts remove only what lower layers contributed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "image/node_type.hpp"
#include "util/error.hpp"

namespace ef::tree {

// The entry kinds are the image's (image/node_type.hpp); the tree and the
// image readers share them.
using image::mode_type_bits;
using image::node_type_from_mode;
using image::node_type_name;
using image::NodeType;

/// Where a regular file's bytes come from; the image writer reads them in
/// the data phase through a DataSource (see data_source.hpp).
/// Files are written to the image in (source, ordinal) order, which makes
/// the output depend only on the inputs.
struct DataRef {
  enum class Kind : uint8_t { none, archive_entry, host_file, inline_bytes };
  Kind kind = Kind::none;
  uint32_t source = 0;                      // index into Tree::sources()
  uint64_t ordinal = 0;                     // position of the entry within its source
  std::shared_ptr<const std::string> text;  // host_file: host path; inline_bytes: the bytes
};

struct Inode {
  NodeType type = NodeType::regular;
  uint32_t mode = 0;  // permission bits including setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime = 0;
  uint64_t size = 0;                          // regular files
  uint64_t rdev = 0;                          // devices (Linux dev_t encoding)
  std::string target;                         // symlinks
  std::map<std::string, std::string> xattrs;  // sorted by name
  DataRef data;
};

struct Node {
  std::shared_ptr<Inode> inode;
  std::map<std::string, std::unique_ptr<Node>, std::less<>> children;  // directories only
  uint32_t layer = 0;  // sequence number of the layer that last set this node
  bool is_dir() const { return inode->type == NodeType::directory; }
};

/// An input a DataRef points at (an archive stream or a host file).
struct SourceInfo {
  enum class Kind : uint8_t { archive_file, archive_member, host_files, inline_files };
  Kind kind = Kind::archive_file;
  std::string path;    // archive on the host (host_files: the layer's directory)
  std::string member;  // archive_member: path of the inner archive inside `path`
  std::string label;   // for messages: "layer 2 (tarball extra.tar.zst)"
};

/// Counts reported in the build manifest.
struct TreeStats {
  uint64_t directories = 0, files = 0, symlinks = 0, devices = 0, fifos = 0, sockets = 0;
  uint64_t hardlinks = 0;   // extra names of an inode beyond the first
  uint64_t file_bytes = 0;  // sum of unique regular-file sizes
};

/// Splits a raw input path into components (see semantics above).
/// An empty result names the root itself.
Result<std::vector<std::string>> split_path(std::string_view raw);

class Tree {
 public:
  /// `default_mtime` is used for directories the tree creates implicitly.
  explicit Tree(int64_t default_mtime = 0);

  /// Starts a new layer; whiteouts and later-wins use this order.
  void begin_layer() { ++layer_; }
  uint32_t layer() const { return layer_; }

  /// Registers a data source and returns its index for DataRef::source.
  uint32_t add_source(SourceInfo info);
  const std::vector<SourceInfo>& sources() const { return sources_; }

  /// Puts `inode` at `path` (raw input path), creating missing parents.
  Result<void> put(std::string_view path, std::shared_ptr<Inode> inode);
  /// Adds `path` as another name of the inode at `target`.
  Result<void> link(std::string_view path, std::string_view target);
  /// Handles `.wh.<name>` and `.wh..wh..opq` entries; returns true when
  /// `path` was a whiteout (and must not appear in the tree).
  Result<bool> apply_whiteout(std::string_view path);

  /// Looks up a path (no symlink following); nullptr when absent.
  const Node* find(std::string_view path) const;
  Node* find(std::string_view path);
  const Node& root() const { return *root_; }
  Node& root() { return *root_; }

  /// Clamps every mtime above `epoch` down to it.
  void clamp_mtimes(int64_t epoch);
  TreeStats stats() const;

 private:
  Result<Node*> parent_dir(const std::vector<std::string>& parts, std::string_view raw);
  Node* lookup(const std::vector<std::string>& parts);

  std::unique_ptr<Node> root_;
  std::vector<SourceInfo> sources_;
  int64_t default_mtime_;
  uint32_t layer_ = 0;
};

}  // namespace ef::tree
