#include "image/node_type.hpp"

#include <sys/stat.h>

#include <utility>

namespace ef::image {

namespace {

// File-type mode bits and node types, one table for both directions.
constexpr std::pair<uint32_t, NodeType> kModeTypes[] = {
    {S_IFDIR, NodeType::directory},    {S_IFREG, NodeType::regular},
    {S_IFLNK, NodeType::symlink},      {S_IFCHR, NodeType::char_device},
    {S_IFBLK, NodeType::block_device}, {S_IFIFO, NodeType::fifo},
    {S_IFSOCK, NodeType::socket},
};

}  // namespace

NodeType node_type_from_mode(uint32_t mode) {
  for (const auto& [bits, type] : kModeTypes)
    if ((mode & S_IFMT) == bits) return type;
  return NodeType::regular;
}

uint32_t mode_type_bits(NodeType type) {
  for (const auto& [bits, t] : kModeTypes)
    if (t == type) return bits;
  return S_IFREG;
}

const char* node_type_name(NodeType type) {
  switch (type) {
    case NodeType::directory:
      return "directory";
    case NodeType::regular:
      return "regular file";
    case NodeType::symlink:
      return "symlink";
    case NodeType::char_device:
      return "character device";
    case NodeType::block_device:
      return "block device";
    case NodeType::fifo:
      return "fifo";
    case NodeType::socket:
      return "socket";
  }
  return "entry";
}

}  // namespace ef::image
