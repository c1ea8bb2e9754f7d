#include <memory>

#include "builder/tree/archive_reader.hpp"
#include "builder/tree/inputs.hpp"

namespace ef::tree {

namespace {

Result<void> apply_entry(Tree& tree, ArchiveEntry& entry, uint32_t source, uint64_t ordinal) {
  EF_ASSIGN(bool whiteout, tree.apply_whiteout(entry.path));
  if (whiteout) return Ok{};
  if (!entry.hardlink.empty()) {
    EF_TRY(tree.link(entry.path, entry.hardlink));
    if (entry.has_data) {  // pax allows a hard link to carry new data for the shared inode
      Node* node = tree.find(entry.path);
      node->inode->size = entry.inode.size;
      node->inode->data = DataRef{DataRef::Kind::archive_entry, source, ordinal, nullptr};
    }
    return Ok{};
  }
  auto inode = std::make_shared<Inode>(std::move(entry.inode));
  if (inode->type == NodeType::regular)
    inode->data = DataRef{DataRef::Kind::archive_entry, source, ordinal, nullptr};
  return tree.put(entry.path, std::move(inode));
}

}  // namespace

Result<void> apply_archive(Tree& tree, SourceInfo source) {
  std::string label = source.label;
  EF_ASSIGN(auto reader, ArchiveReader::open(source));
  tree.begin_layer();
  uint32_t index = tree.add_source(std::move(source));
  ArchiveEntry entry;
  for (uint64_t ordinal = 0;; ++ordinal) {
    EF_ASSIGN(bool more, reader->next(entry));
    if (!more) break;
    auto applied = apply_entry(tree, entry, index, ordinal);
    if (!applied)
      return std::move(applied).error().with_context(
          label + ": entry " + std::to_string(ordinal + 1) + " '" + entry.path + "' at offset " +
          std::to_string(entry.offset));
  }
  return Ok{};
}

}  // namespace ef::tree
