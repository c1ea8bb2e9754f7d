// The kinds of entries an image holds and their POSIX mode bits. Shared by
// the builder's tree (builder/tree) and the image readers (squashfs here,
// ext4 in iso/), so reading an image needs nothing of the builder.
#pragma once

#include <cstdint>

namespace ef::image {

enum class NodeType : uint8_t {
  directory,
  regular,
  symlink,
  char_device,
  block_device,
  fifo,
  socket
};

/// Returns "directory", "regular file", ... for messages.
const char* node_type_name(NodeType type);

/// The node type the file-type bits of a POSIX `mode` (S_IFMT) name; an
/// unknown or missing type is a regular file. libarchive's AE_IF* and
/// ext2's LINUX_S_IF* values are the POSIX ones.
NodeType node_type_from_mode(uint32_t mode);
/// The POSIX file-type bits (S_IFDIR, S_IFREG, ...) of `type`.
uint32_t mode_type_bits(NodeType type);

}  // namespace ef::image
