#include "builder/tree/data_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "builder/tree/archive_reader.hpp"
#include "util/unique_fd.hpp"

namespace ef::tree {

namespace {

std::vector<Inode*> files_in_data_order(Tree& tree) {
  std::vector<Inode*> files;
  std::set<const Inode*> seen;
  std::function<void(Node&)> walk = [&](Node& node) {
    Inode* inode = node.inode.get();
    if (inode->type == NodeType::regular && seen.insert(inode).second) files.push_back(inode);
    for (auto& [name, child] : node.children) walk(*child);
  };
  walk(tree.root());
  std::stable_sort(files.begin(), files.end(), [](const Inode* a, const Inode* b) {
    if (a->data.source != b->data.source) return a->data.source < b->data.source;
    return a->data.ordinal < b->data.ordinal;
  });
  return files;
}

Result<void> stream_host_file(const std::string& path, uint64_t size, FileSink& sink) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(Errc::io, "cannot open " + path, errno);
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  Result<void> result = Ok{};
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = errno_error(Errc::io, "cannot read " + path, errno);
      break;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > size) break;
    result = sink.append(buf.data(), static_cast<size_t>(n));
    if (!result) break;
  }
  if (result && total != size)
    return Error(Errc::io, path + " changed while the image was built (" + std::to_string(size) +
                               " bytes expected)");
  return result;
}

// Streams one archive source: entries are visited in order and the wanted
// ones (sorted by ordinal) are fed to the sink.
Result<void> stream_archive(const SourceInfo& source, std::vector<Inode*>::const_iterator begin,
                            std::vector<Inode*>::const_iterator end, FileSink& sink) {
  EF_ASSIGN(auto reader, ArchiveReader::open(source));
  ArchiveEntry entry;
  uint64_t ordinal = 0;
  for (auto it = begin; it != end; ++ordinal) {
    EF_ASSIGN(bool more, reader->next(entry));
    if (!more)
      return Error(Errc::archive, source.label + ": archive changed while the image was built");
    if (ordinal != (*it)->data.ordinal) continue;
    Inode& inode = **it++;
    // The tree may come from an entry index (entry_index.hpp) rather than
    // from this read: the entry must still be the file the tree describes.
    if (entry.inode.size != inode.size)
      return Error(Errc::archive, source.label + ": entry " + std::to_string(ordinal + 1) + " '" +
                                      entry.path + "' is " + std::to_string(entry.inode.size) +
                                      " bytes, the tree says " + std::to_string(inode.size) +
                                      ": the archive changed while the image was built");
    EF_TRY(sink.begin_file(inode));
    EF_TRY(
        reader->read_data(inode.size, [&](const void* d, size_t n) { return sink.append(d, n); }));
    EF_TRY(sink.end_file());
  }
  return Ok{};
}

// Streams one file that is not inside an archive (inline or on the host).
Result<void> stream_loose_file(Inode& inode, const SourceInfo& info, FileSink& sink) {
  EF_TRY(sink.begin_file(inode));
  if (inode.data.kind == DataRef::Kind::inline_bytes) {
    EF_TRY(sink.append(inode.data.text->data(), inode.data.text->size()));
  } else if (inode.data.kind == DataRef::Kind::host_file) {
    auto streamed = stream_host_file(*inode.data.text, inode.size, sink);
    if (!streamed) return std::move(streamed).error().with_context(info.label);
  }
  return sink.end_file();
}

// Collects a file's bytes in memory.
class StringSink final : public FileSink {
 public:
  explicit StringSink(uint64_t max) : max_(max) {}
  Result<void> begin_file(Inode&) override { return Ok{}; }
  Result<void> append(const void* data, size_t size) override {
    if (out_.size() + size > max_)
      return Error(Errc::io, "file larger than " + std::to_string(max_) + " bytes");
    out_.append(static_cast<const char*>(data), size);
    return Ok{};
  }
  Result<void> end_file() override { return Ok{}; }
  std::string take() { return std::move(out_); }

 private:
  uint64_t max_;
  std::string out_;
};

// Collects several files' bytes in memory, keyed by inode.
class MultiSink final : public FileSink {
 public:
  explicit MultiSink(uint64_t max) : max_(max) {}
  Result<void> begin_file(Inode& inode) override {
    current_ = &out_[&inode];
    return Ok{};
  }
  Result<void> append(const void* data, size_t size) override {
    if (current_->size() + size > max_)
      return Error(Errc::io, "file larger than " + std::to_string(max_) + " bytes");
    current_->append(static_cast<const char*>(data), size);
    return Ok{};
  }
  Result<void> end_file() override { return Ok{}; }
  std::map<const Inode*, std::string>& files() { return out_; }

 private:
  uint64_t max_;
  std::map<const Inode*, std::string> out_;
  std::string* current_ = nullptr;
};

}  // namespace

Result<std::vector<std::string>> read_files_content(const Tree& tree,
                                                    const std::vector<const Inode*>& inodes,
                                                    uint64_t max_size) {
  std::vector<Inode*> order;
  for (const Inode* i : inodes) {
    if (i->type != NodeType::regular) return Error(Errc::invalid_argument, "not a regular file");
    order.push_back(const_cast<Inode*>(i));  // the sink never modifies it
  }
  std::sort(order.begin(), order.end(), [](const Inode* a, const Inode* b) {
    if (a->data.source != b->data.source) return a->data.source < b->data.source;
    return a->data.ordinal < b->data.ordinal;
  });
  order.erase(std::unique(order.begin(), order.end()), order.end());
  MultiSink sink(max_size);
  for (auto it = order.cbegin(); it != order.cend();) {
    uint32_t source = (*it)->data.source;
    auto group_end =
        std::find_if(it, order.cend(), [&](const Inode* i) { return i->data.source != source; });
    const SourceInfo& info = tree.sources().at(source);
    if ((*it)->data.kind == DataRef::Kind::archive_entry) {
      EF_TRY(stream_archive(info, it, group_end, sink));
    } else {
      for (auto f = it; f != group_end; ++f) EF_TRY(stream_loose_file(**f, info, sink));
    }
    it = group_end;
  }
  std::vector<std::string> out;
  for (const Inode* i : inodes) out.push_back(sink.files()[i]);
  return out;
}

Result<std::string> read_file_content(const Tree& tree, const Inode& inode, uint64_t max_size) {
  if (inode.type != NodeType::regular) return Error(Errc::invalid_argument, "not a regular file");
  if (inode.size > max_size)
    return Error(Errc::io, "file of " + std::to_string(inode.size) + " bytes is larger than " +
                               std::to_string(max_size) + " bytes");
  StringSink sink(max_size);
  Inode& mutable_inode = const_cast<Inode&>(inode);  // the sink never touches it
  std::vector<Inode*> one{&mutable_inode};
  const SourceInfo& info = tree.sources().at(inode.data.source);
  if (inode.data.kind == DataRef::Kind::archive_entry) {
    EF_TRY(stream_archive(info, one.cbegin(), one.cend(), sink));
  } else {
    EF_TRY(stream_loose_file(mutable_inode, info, sink));
  }
  return sink.take();
}

Result<void> stream_file_data(Tree& tree, FileSink& sink) {
  auto files = files_in_data_order(tree);
  const auto& sources = tree.sources();
  auto it = files.cbegin();
  for (uint32_t source = 0; source < sources.size(); ++source) {
    auto group_end =
        std::find_if(it, files.cend(), [&](const Inode* i) { return i->data.source != source; });
    const SourceInfo& info = sources[source];
    if (info.kind == SourceInfo::Kind::archive_file ||
        info.kind == SourceInfo::Kind::archive_member) {
      EF_TRY(stream_archive(info, it, group_end, sink));
    } else {
      for (auto f = it; f != group_end; ++f) EF_TRY(stream_loose_file(**f, info, sink));
    }
    it = group_end;
  }
  return Ok{};
}

}  // namespace ef::tree
