#include "iso/ext4_reader.hpp"

// com_err's header has no extern "C" of its own.
extern "C" {
#include <et/com_err.h>
}
#include <ext2fs/ext2fs.h>

#include <algorithm>
#include <memory>

namespace ef::iso {
namespace {

using image::ImageEntry;
using image::NodeType;

Error ext2_error(errcode_t err, const std::string& what) {
  return Error(Errc::image, what + ": " + error_message(err));
}

struct FsClose {
  void operator()(ext2_filsys fs) const { ext2fs_close_free(&fs); }
};
using Fs = std::unique_ptr<std::remove_pointer_t<ext2_filsys>, FsClose>;

Result<Fs> open_fs(const std::filesystem::path& file, uint64_t offset) {
  // unix_io takes the partition's offset as an option: "offset=N".
  std::string options = "offset=" + std::to_string(offset);
  ext2_filsys fs = nullptr;
  errcode_t err =
      ext2fs_open2(file.c_str(), options.c_str(), EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
  if (err)
    return ext2_error(err,
                      file.string() + ": no ext4 filesystem at offset " + std::to_string(offset));
  return Fs(fs);
}

Result<std::string> read_inode_data(ext2_filsys fs, ext2_ino_t ino, const std::string& what) {
  ext2_file_t f = nullptr;
  errcode_t err = ext2fs_file_open(fs, ino, 0, &f);
  if (err) return ext2_error(err, what);
  std::unique_ptr<std::remove_pointer_t<ext2_file_t>, decltype(&ext2fs_file_close)> owned(
      f, &ext2fs_file_close);
  std::string data;
  char buf[65536];
  for (;;) {
    unsigned int got = 0;
    err = ext2fs_file_read(f, buf, sizeof buf, &got);
    if (err) return ext2_error(err, what);
    if (got == 0) break;
    data.append(buf, got);
  }
  return data;
}

Result<std::string> symlink_target(ext2_filsys fs, ext2_ino_t ino, ext2_inode& inode,
                                   const std::string& what) {
  uint64_t size = EXT2_I_SIZE(&inode);
  if (ext2fs_is_fast_symlink(&inode))
    return std::string(reinterpret_cast<const char*>(inode.i_block),
                       std::min<uint64_t>(size, sizeof inode.i_block));
  if (inode.i_flags & EXT4_INLINE_DATA_FL) {
    std::string buf(size + 1, '\0');
    size_t got = 0;
    errcode_t err = ext2fs_inline_data_get(fs, ino, &inode, buf.data(), &got);
    if (err) return ext2_error(err, what);
    buf.resize(std::min<size_t>(got, size));
    return buf;
  }
  EF_ASSIGN(std::string data, read_inode_data(fs, ino, what));
  data.resize(std::min<uint64_t>(data.size(), size));
  return data;
}

struct Walker {
  ext2_filsys fs;
  std::vector<ImageEntry>* out;

  Result<void> visit(ext2_ino_t ino, const std::string& path) {
    ext2_inode inode{};
    errcode_t err = ext2fs_read_inode(fs, ino, &inode);
    if (err) return ext2_error(err, path);
    ImageEntry e;
    e.path = path.empty() ? "/" : path;
    e.type = image::node_type_from_mode(inode.i_mode);
    e.mode = inode.i_mode & 07777;
    e.uid = inode_uid(inode);
    e.gid = inode_gid(inode);
    e.mtime = static_cast<int32_t>(inode.i_mtime);
    e.inode_number = ino;
    e.nlink = inode.i_links_count;
    if (e.type == NodeType::regular) e.size = EXT2_I_SIZE(&inode);
    if (e.type == NodeType::symlink) {
      EF_ASSIGN(e.target, symlink_target(fs, ino, inode, path));
      e.size = e.target.size();
    }
    if (e.type == NodeType::char_device || e.type == NodeType::block_device) {
      // Old encoding (major << 8 | minor) in i_block[0], else the new one in i_block[1].
      uint32_t old = inode.i_block[0];
      e.rdev = old ? (((old >> 8) & 0xff) << 8) | (old & 0xff) : inode.i_block[1];
    }
    out->push_back(e);
    if (e.type != NodeType::directory) return Ok{};

    std::vector<std::pair<std::string, ext2_ino_t>> children;
    auto collect = [](ext2_dir_entry* dirent, int, int, char*, void* priv) -> int {
      auto* list = static_cast<std::vector<std::pair<std::string, ext2_ino_t>>*>(priv);
      std::string name(dirent->name, static_cast<size_t>(ext2fs_dirent_name_len(dirent)));
      if (name != "." && name != "..") list->emplace_back(std::move(name), dirent->inode);
      return 0;
    };
    err = ext2fs_dir_iterate(fs, ino, 0, nullptr, collect, &children);
    if (err) return ext2_error(err, e.path);
    std::sort(children.begin(), children.end());
    for (const auto& [name, child] : children) EF_TRY(visit(child, path + "/" + name));
    return Ok{};
  }
};

}  // namespace

Result<std::vector<ImageEntry>> list_ext4(const std::filesystem::path& file, uint64_t offset) {
  EF_ASSIGN(Fs fs, open_fs(file, offset));
  std::vector<ImageEntry> out;
  Walker w{fs.get(), &out};
  EF_TRY(w.visit(EXT2_ROOT_INO, ""));
  return out;
}

Result<std::string> read_ext4_file(const std::filesystem::path& file, uint64_t offset,
                                   const std::string& path) {
  EF_ASSIGN(Fs fs, open_fs(file, offset));
  ext2_ino_t ino = 0;
  errcode_t err = ext2fs_namei_follow(fs.get(), EXT2_ROOT_INO, EXT2_ROOT_INO, path.c_str(), &ino);
  if (err) return ext2_error(err, path);
  ext2_inode inode{};
  err = ext2fs_read_inode(fs.get(), ino, &inode);
  if (err) return ext2_error(err, path);
  if (!LINUX_S_ISREG(inode.i_mode))
    return Error(Errc::invalid_argument, path + " is not a regular file");
  return read_inode_data(fs.get(), ino, path);
}

}  // namespace ef::iso
