#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <memory>
#include <vector>

#include "builder/tree/archive_reader.hpp"
#include "builder/tree/entry_index.hpp"
#include "builder/tree/inputs.hpp"
#include "util/atomic_file.hpp"

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

// Applies the entries `next` yields, in order, as one layer of `source`;
// `seen` (when set) sees each entry before it is applied.
template <typename Next>
Result<void> apply_entries(Tree& tree, SourceInfo source, Next&& next,
                           EntryIndexWriter* seen = nullptr) {
  std::string label = source.label;
  tree.begin_layer();
  uint32_t index = tree.add_source(std::move(source));
  ArchiveEntry entry;
  for (uint64_t ordinal = 0;; ++ordinal) {
    EF_ASSIGN(bool more, next(entry));
    if (!more) break;
    if (seen) seen->add(entry);
    auto applied = apply_entry(tree, entry, index, ordinal);
    if (!applied)
      return std::move(applied).error().with_context(
          label + ": entry " + std::to_string(ordinal + 1) + " '" + entry.path + "' at offset " +
          std::to_string(entry.offset));
  }
  return Ok{};
}

// The index as read, or nothing (none yet, or unreadable: a warning).
std::optional<std::string> read_index(const std::filesystem::path& file) {
  auto bytes = read_file(file);
  if (!bytes) {
    if (bytes.error().code() != Errc::not_found)
      spdlog::warn("entry index: {}; the archive is read instead", bytes.error().message());
    return std::nullopt;
  }
  return std::move(*bytes);
}

Result<std::vector<ArchiveEntry>> decode_index(std::string_view bytes, const std::string& what) {
  EF_ASSIGN(auto reader, EntryIndexReader::open(bytes, what));
  std::vector<ArchiveEntry> entries;
  entries.reserve(reader.count());
  for (;;) {
    ArchiveEntry e;
    EF_ASSIGN(bool more, reader.next(e));
    if (!more) return entries;
    entries.push_back(std::move(e));
  }
}

}  // namespace

Result<void> apply_archive(Tree& tree, SourceInfo source) {
  EF_ASSIGN(auto reader, ArchiveReader::open(source));
  return apply_entries(tree, std::move(source), [&](ArchiveEntry& e) { return reader->next(e); });
}

Result<EntryIndexUse> apply_archive_indexed(Tree& tree, SourceInfo source,
                                            const std::filesystem::path& index_file) {
  if (auto bytes = read_index(index_file)) {
    // Decoded whole before the tree sees any of it: a damaged index changes
    // nothing and the archive is read as if there were none.
    auto entries = decode_index(*bytes, index_file.string());
    if (entries) {
      ::utimensat(AT_FDCWD, index_file.c_str(), nullptr, 0);  // recently used
      size_t next = 0;
      EF_TRY(apply_entries(tree, std::move(source), [&](ArchiveEntry& e) -> Result<bool> {
        if (next == entries->size()) return false;
        e = std::move((*entries)[next++]);
        return true;
      }));
      return EntryIndexUse::used_index;
    }
    spdlog::warn("{}; the archive is read instead", entries.error().message());
  }
  EF_ASSIGN(auto reader, ArchiveReader::open(source));
  EntryIndexWriter writer;
  EF_TRY(apply_entries(
      tree, std::move(source), [&](ArchiveEntry& e) { return reader->next(e); }, &writer));
  auto kept = write_file_atomic(index_file, writer.finish());  // creates trees/ as needed
  if (!kept) {
    spdlog::warn("entry index: cannot keep {}: {}", index_file.string(), kept.error().message());
    return EntryIndexUse::read_archive;
  }
  bound_entry_indexes(index_file.parent_path());
  return EntryIndexUse::wrote_index;
}

}  // namespace ef::tree
