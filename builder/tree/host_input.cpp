#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "builder/tree/inputs.hpp"

namespace ef::tree {

namespace {

namespace fs = std::filesystem;

Result<std::shared_ptr<Inode>> inode_from_host(const fs::path& path, const DirectoryInput& in) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return errno_error(Errc::io, "cannot stat " + path.string(), errno);
  auto inode = std::make_shared<Inode>();
  inode->mode = st.st_mode & 07777;
  inode->uid = in.uid;
  inode->gid = in.gid;
  inode->mtime = in.mtime;
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
      inode->type = NodeType::directory;
      break;
    case S_IFREG:
      inode->type = NodeType::regular;
      inode->size = static_cast<uint64_t>(st.st_size);
      break;
    case S_IFLNK: {
      inode->type = NodeType::symlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return errno_error(Errc::io, "cannot read link " + path.string(), errno);
      target.resize(static_cast<size_t>(n));
      inode->target = std::move(target);
      break;
    }
    case S_IFCHR:
    case S_IFBLK:
      inode->type = S_ISCHR(st.st_mode) ? NodeType::char_device : NodeType::block_device;
      inode->rdev = st.st_rdev;
      break;
    case S_IFIFO:
      inode->type = NodeType::fifo;
      break;
    default:
      inode->type = NodeType::socket;
      break;
  }
  return inode;
}

// Walks `dir` in sorted order so file data order (and so the image) does not
// depend on the host's directory order.
Result<void> walk(Tree& tree, const DirectoryInput& in, const fs::path& dir,
                  const std::string& prefix, uint32_t source, uint64_t& ordinal) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    entries.push_back(it->path());
  if (ec) return Error(Errc::io, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());
  for (const auto& host : entries) {
    std::string rel = prefix + "/" + host.filename().string();
    EF_ASSIGN(auto inode, inode_from_host(host, in));
    bool is_dir = inode->type == NodeType::directory;
    if (inode->type == NodeType::regular) {
      inode->data = DataRef{DataRef::Kind::host_file, source, ordinal++,
                            std::make_shared<const std::string>(host.string())};
    }
    EF_TRY(tree.put(rel, std::move(inode)));
    if (is_dir) EF_TRY(walk(tree, in, host, rel, source, ordinal));
  }
  return Ok{};
}

}  // namespace

Result<void> apply_directory(Tree& tree, const DirectoryInput& input) {
  std::error_code ec;
  if (!fs::is_directory(input.dir, ec))
    return Error(Errc::not_found, input.label + ": not a directory: " + input.dir.string());
  tree.begin_layer();
  SourceInfo info;
  info.kind = SourceInfo::Kind::host_files;
  info.path = input.dir.string();
  info.label = input.label;
  uint32_t source = tree.add_source(std::move(info));
  uint64_t ordinal = 0;
  auto walked = walk(tree, input, input.dir, "", source, ordinal);
  if (!walked) return std::move(walked).error().with_context(input.label);
  return Ok{};
}

Result<void> apply_files(Tree& tree, const std::vector<InlineFile>& files, int64_t mtime,
                         const std::string& label) {
  tree.begin_layer();
  SourceInfo info;
  info.kind = SourceInfo::Kind::inline_files;
  info.label = label;
  uint32_t source = tree.add_source(std::move(info));
  uint64_t ordinal = 0;
  for (const auto& file : files) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::regular;
    inode->mode = file.mode & 07777;
    inode->uid = file.uid;
    inode->gid = file.gid;
    inode->mtime = mtime;
    if (file.content) {
      inode->size = file.content->size();
      inode->data = DataRef{DataRef::Kind::inline_bytes, source, ordinal++,
                            std::make_shared<const std::string>(*file.content)};
    } else {
      std::error_code ec;
      auto size = fs::file_size(file.source, ec);
      if (ec)
        return Error(Errc::not_found, label + ": " + file.path + ": cannot read source " +
                                          file.source.string() + ": " + ec.message());
      inode->size = size;
      inode->data = DataRef{DataRef::Kind::host_file, source, ordinal++,
                            std::make_shared<const std::string>(file.source.string())};
    }
    auto put = tree.put(file.path, std::move(inode));
    if (!put) return std::move(put).error().with_context(label + ": " + file.path);
  }
  return Ok{};
}

}  // namespace ef::tree
