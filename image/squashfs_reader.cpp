#include "image/squashfs_reader.hpp"

#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_reader.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "image/sqfs_handles.hpp"

namespace ef::image {

namespace {

Error sqfs_error(int code, const std::string& what) {
  return Error(Errc::image, what + ": " + sqfs_error_name(code));
}

NodeType node_type(const sqfs_inode_generic_t* inode) {
  switch (inode->base.type) {
    case SQFS_INODE_DIR:
    case SQFS_INODE_EXT_DIR:
      return NodeType::directory;
    case SQFS_INODE_SLINK:
    case SQFS_INODE_EXT_SLINK:
      return NodeType::symlink;
    case SQFS_INODE_BDEV:
    case SQFS_INODE_EXT_BDEV:
      return NodeType::block_device;
    case SQFS_INODE_CDEV:
    case SQFS_INODE_EXT_CDEV:
      return NodeType::char_device;
    case SQFS_INODE_FIFO:
    case SQFS_INODE_EXT_FIFO:
      return NodeType::fifo;
    case SQFS_INODE_SOCKET:
    case SQFS_INODE_EXT_SOCKET:
      return NodeType::socket;
    default:
      return NodeType::regular;
  }
}

uint32_t link_count(const sqfs_inode_generic_t* inode) {
  switch (inode->base.type) {
    case SQFS_INODE_DIR:
      return inode->data.dir.nlink;
    case SQFS_INODE_EXT_DIR:
      return inode->data.dir_ext.nlink;
    case SQFS_INODE_FILE:
      return 1;
    case SQFS_INODE_EXT_FILE:
      return inode->data.file_ext.nlink;
    case SQFS_INODE_SLINK:
    case SQFS_INODE_EXT_SLINK:
      return inode->data.slink.nlink;
    case SQFS_INODE_BDEV:
    case SQFS_INODE_CDEV:
    case SQFS_INODE_EXT_BDEV:
    case SQFS_INODE_EXT_CDEV:
      return inode->data.dev.nlink;
    default:
      return inode->data.ipc.nlink;
  }
}

const char* compressor_name(int id) {
  switch (id) {
    case SQFS_COMP_GZIP:
      return "gzip";
    case SQFS_COMP_XZ:
      return "xz";
    case SQFS_COMP_LZ4:
      return "lz4";
    case SQFS_COMP_ZSTD:
      return "zstd";
    case SQFS_COMP_LZO:
      return "lzo";
    case SQFS_COMP_LZMA:
      return "lzma";
    default:
      return "unknown";
  }
}

// A read-only sqfs_file_t over a file descriptor whose size comes from
// lseek(SEEK_END): libsquashfs's own file object takes the size from
// fstat, which is 0 for block devices, and the agent reads slots that are
// partitions.
struct FdFile {
  sqfs_file_t base;  // first member: libsquashfs casts between the two
  int fd;
  sqfs_u64 start;  // where the image starts in the file (a partition's offset)
  sqfs_u64 size;
};

void fd_file_destroy(sqfs_object_t* obj) {
  auto* f = reinterpret_cast<FdFile*>(obj);
  ::close(f->fd);
  delete f;
}

int fd_file_read_at(sqfs_file_t* file, sqfs_u64 offset, void* buffer, size_t size) {
  auto* f = reinterpret_cast<FdFile*>(file);
  if (offset > f->size || size > f->size - offset) return SQFS_ERROR_OUT_OF_BOUNDS;
  auto* out = static_cast<char*>(buffer);
  while (size > 0) {
    ssize_t n = ::pread(f->fd, out, size, static_cast<off_t>(f->start + offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SQFS_ERROR_IO;
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<sqfs_u64>(n);
  }
  return 0;
}

int fd_file_write_at(sqfs_file_t*, sqfs_u64, const void*, size_t) {
  return SQFS_ERROR_IO;
}
sqfs_u64 fd_file_get_size(const sqfs_file_t* file) {
  return reinterpret_cast<const FdFile*>(file)->size;
}
int fd_file_truncate(sqfs_file_t*, sqfs_u64) {
  return SQFS_ERROR_IO;
}

sqfs_file_t* open_fd_file(const std::filesystem::path& path, uint64_t start, uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  off_t end = ::lseek(fd, 0, SEEK_END);
  if (end < 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return nullptr;
  }
  if (static_cast<uint64_t>(end) < start) {
    ::close(fd);
    errno = EINVAL;
    return nullptr;
  }
  auto* f = new FdFile{};
  f->base.base.destroy = fd_file_destroy;
  f->base.base.copy = nullptr;
  f->base.read_at = fd_file_read_at;
  f->base.write_at = fd_file_write_at;
  f->base.get_size = fd_file_get_size;
  f->base.truncate = fd_file_truncate;
  f->fd = fd;
  f->start = start;
  f->size = std::min<sqfs_u64>(static_cast<sqfs_u64>(end) - start, length);
  return &f->base;
}

}  // namespace

struct ImageReader::Impl {
  SqfsPtr<sqfs_file_t> file;
  sqfs_super_t super{};
  SqfsPtr<sqfs_compressor_t> cmp;
  SqfsPtr<sqfs_id_table_t> idtbl;
  SqfsPtr<sqfs_dir_reader_t> dirrd;
  SqfsPtr<sqfs_data_reader_t> data;
  SqfsPtr<sqfs_xattr_reader_t> xattrs;

  Result<std::map<std::string, std::string>> read_xattrs(const sqfs_inode_generic_t* inode) {
    std::map<std::string, std::string> out;
    sqfs_u32 index = 0xFFFFFFFF;
    sqfs_inode_get_xattr_index(inode, &index);
    if (index == 0xFFFFFFFF || !xattrs) return out;
    sqfs_xattr_id_t desc;
    int rc = sqfs_xattr_reader_get_desc(xattrs.get(), index, &desc);
    if (!rc) rc = sqfs_xattr_reader_seek_kv(xattrs.get(), &desc);
    for (sqfs_u32 i = 0; !rc && i < desc.count; ++i) {
      sqfs_xattr_entry_t* key = nullptr;
      sqfs_xattr_value_t* value = nullptr;
      rc = sqfs_xattr_reader_read_key(xattrs.get(), &key);
      if (!rc) rc = sqfs_xattr_reader_read_value(xattrs.get(), key, &value);
      if (!rc) {
        // The reader returns the full, NUL-terminated name; key->size counts
        // only the part after the prefix.
        std::string name(reinterpret_cast<const char*>(key->key));
        out[name] = std::string(reinterpret_cast<const char*>(value->value), value->size);
      }
      std::free(key);
      std::free(value);
    }
    if (rc) return sqfs_error(rc, "reading extended attributes");
    return out;
  }

  Result<void> collect(const sqfs_tree_node_t* node, const std::string& path,
                       std::vector<ImageEntry>& out) {
    const sqfs_inode_generic_t* inode = node->inode;
    ImageEntry e;
    e.path = path.empty() ? "/" : path;
    e.type = node_type(inode);
    e.mode = inode->base.mode & 07777;
    e.uid = node->uid;
    e.gid = node->gid;
    e.mtime = inode->base.mod_time;
    e.inode_number = inode->base.inode_number;
    e.nlink = link_count(inode);
    if (e.type == NodeType::regular) sqfs_inode_get_file_size(inode, &e.size);
    if (e.type == NodeType::symlink) {
      e.target.assign(reinterpret_cast<const char*>(inode->extra), inode->data.slink.target_size);
      e.size = e.target.size();  // as ls and unsquashfs show it
    }
    if (e.type == NodeType::char_device || e.type == NodeType::block_device)
      e.rdev = inode->data.dev.devno;
    EF_ASSIGN(e.xattrs, read_xattrs(inode));
    out.push_back(std::move(e));
    for (const sqfs_tree_node_t* c = node->children; c; c = c->next)
      EF_TRY(collect(c, path + "/" + reinterpret_cast<const char*>(c->name), out));
    return Ok{};
  }
};

ImageReader::ImageReader() : impl_(std::make_unique<Impl>()) {}
ImageReader::~ImageReader() = default;

Result<std::unique_ptr<ImageReader>> ImageReader::open(const std::filesystem::path& path,
                                                       uint64_t offset, uint64_t length) {
  std::unique_ptr<ImageReader> r(new ImageReader());
  Impl& m = *r->impl_;
  m.file.reset(open_fd_file(path, offset, length));
  if (!m.file) return errno_error(Errc::not_found, "cannot open image " + path.string(), errno);
  int rc = sqfs_super_read(&m.super, m.file.get());
  if (rc) return sqfs_error(rc, path.string());
  sqfs_compressor_config_t cfg;
  rc = sqfs_compressor_config_init(&cfg, static_cast<SQFS_COMPRESSOR>(m.super.compression_id),
                                   m.super.block_size, SQFS_COMP_FLAG_UNCOMPRESS);
  sqfs_compressor_t* cmp = nullptr;
  if (!rc) rc = sqfs_compressor_create(&cfg, &cmp);
  if (rc) return sqfs_error(rc, path.string() + ": compressor");
  m.cmp.reset(cmp);
  m.idtbl.reset(sqfs_id_table_create(0));
  if (!m.idtbl) return Error(Errc::image, "out of memory");
  if ((rc = sqfs_id_table_read(m.idtbl.get(), m.file.get(), &m.super, m.cmp.get())))
    return sqfs_error(rc, path.string() + ": id table");
  m.dirrd.reset(sqfs_dir_reader_create(&m.super, m.cmp.get(), m.file.get(), 0));
  m.data.reset(sqfs_data_reader_create(m.file.get(), m.super.block_size, m.cmp.get(), 0));
  if (!m.dirrd || !m.data)
    return Error(Errc::image, path.string() + ": cannot read directory table");
  if ((rc = sqfs_data_reader_load_fragment_table(m.data.get(), &m.super)))
    return sqfs_error(rc, path.string() + ": fragment table");
  if (!(m.super.flags & SQFS_FLAG_NO_XATTRS) &&
      m.super.xattr_id_table_start != 0xFFFFFFFFFFFFFFFFULL) {
    m.xattrs.reset(sqfs_xattr_reader_create(0));
    if (!m.xattrs) return Error(Errc::image, "out of memory");
    if ((rc = sqfs_xattr_reader_load(m.xattrs.get(), &m.super, m.file.get(), m.cmp.get())))
      return sqfs_error(rc, path.string() + ": xattr table");
  }
  return r;
}

ImageInfo ImageReader::info() const {
  const auto& s = impl_->super;
  return ImageInfo{compressor_name(s.compression_id), s.block_size, s.inode_count,
                   s.modification_time, s.bytes_used};
}

Result<std::vector<ImageEntry>> ImageReader::list() {
  sqfs_tree_node_t* root = nullptr;
  int rc =
      sqfs_dir_reader_get_full_hierarchy(impl_->dirrd.get(), impl_->idtbl.get(), nullptr, 0, &root);
  if (rc) return sqfs_error(rc, "reading the directory tree");
  std::unique_ptr<sqfs_tree_node_t, decltype(&sqfs_dir_tree_destroy)> owned(root,
                                                                            &sqfs_dir_tree_destroy);
  std::vector<ImageEntry> out;
  EF_TRY(impl_->collect(root, "", out));
  return out;
}

Result<std::vector<uint64_t>> ImageReader::block_starts() {
  const sqfs_super_t& s = impl_->super;
  std::vector<uint64_t> out;
  // Every inode, in table order: a file's blocks lie from blocks_start on.
  SqfsPtr<sqfs_meta_reader_t> rd(sqfs_meta_reader_create(
      impl_->file.get(), impl_->cmp.get(), s.inode_table_start, s.directory_table_start));
  if (!rd) return Error(Errc::image, "out of memory");
  sqfs_u64 block = s.inode_table_start;
  size_t offset = 0;
  for (uint32_t i = 0; i < s.inode_count; ++i) {
    sqfs_inode_generic_t* raw = nullptr;
    int rc = sqfs_meta_reader_read_inode(rd.get(), &s, block - s.inode_table_start, offset, &raw);
    if (rc) return sqfs_error(rc, "reading inode " + std::to_string(i + 1) + " of the inode table");
    std::unique_ptr<sqfs_inode_generic_t, decltype(&sqfs_free)> inode(raw, &sqfs_free);
    sqfs_meta_reader_get_position(rd.get(), &block, &offset);
    if (inode->base.type != SQFS_INODE_FILE && inode->base.type != SQFS_INODE_EXT_FILE) continue;
    sqfs_u64 at = 0;
    sqfs_inode_get_file_block_start(inode.get(), &at);
    size_t count = sqfs_inode_get_file_block_count(inode.get());
    for (size_t k = 0; k < count; ++k) {
      uint32_t size = SQFS_ON_DISK_BLOCK_SIZE(inode->extra[k]);
      if (size == 0) continue;  // sparse: nothing on disk
      out.push_back(at);
      at += size;
    }
  }
  SqfsPtr<sqfs_frag_table_t> frags(sqfs_frag_table_create(0));
  if (!frags) return Error(Errc::image, "out of memory");
  if (s.fragment_entry_count > 0) {
    int rc = sqfs_frag_table_read(frags.get(), impl_->file.get(), &s, impl_->cmp.get());
    if (rc) return sqfs_error(rc, "reading the fragment table");
    size_t count = sqfs_frag_table_get_size(frags.get());
    for (size_t k = 0; k < count; ++k) {
      sqfs_fragment_t f{};
      if (sqfs_frag_table_lookup(frags.get(), static_cast<sqfs_u32>(k), &f) == 0)
        out.push_back(f.start_offset);
    }
  }
  for (uint64_t table : {s.inode_table_start, s.directory_table_start, s.fragment_table_start,
                         s.export_table_start, s.id_table_start, s.xattr_id_table_start})
    out.push_back(table);
  std::erase_if(out, [&](uint64_t at) { return at >= s.bytes_used; });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<ImageEntry>> ImageReader::list_dir(const std::string& path) {
  sqfs_tree_node_t* root = nullptr;
  int rc = sqfs_dir_reader_get_full_hierarchy(impl_->dirrd.get(), impl_->idtbl.get(), path.c_str(),
                                              SQFS_TREE_NO_RECURSE, &root);
  if (rc) return sqfs_error(rc, path).with_context("image");
  std::unique_ptr<sqfs_tree_node_t, decltype(&sqfs_dir_tree_destroy)> owned(root,
                                                                            &sqfs_dir_tree_destroy);
  if (node_type(root->inode) != NodeType::directory)
    return Error(Errc::invalid_argument, path + " is not a directory");
  std::vector<ImageEntry> out;
  std::string base = path.empty() || path == "/" ? "" : path;
  if (base.size() > 1 && base.back() == '/') base.pop_back();
  EF_TRY(impl_->collect(root, base, out));
  return out;
}

bool ImageReader::exists(const std::string& path) {
  sqfs_inode_generic_t* inode = nullptr;
  if (sqfs_dir_reader_find_by_path(impl_->dirrd.get(), nullptr, path.c_str(), &inode) != 0)
    return false;
  std::free(inode);
  return true;
}

Result<std::string> ImageReader::resolve(const std::string& path) {
  // Walk `path` a component at a time; a symlink's target (absolute: from
  // the image's root, relative: from its directory) replaces it. Nothing
  // leaves the image: ".." at the root stays at the root.
  std::vector<std::string> todo, done;
  auto push_all = [&](const std::string& p) {
    std::vector<std::string> parts;
    for (size_t i = 0; i <= p.size();) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      if (j > i) parts.push_back(p.substr(i, j - i));
      i = j + 1;
    }
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  auto joined = [&] {
    std::string p;
    for (const auto& c : done) p += "/" + c;
    return p.empty() ? std::string("/") : p;
  };
  push_all(path);
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c == ".") continue;
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(c);
    std::string here = joined();
    sqfs_inode_generic_t* inode = nullptr;
    int rc = sqfs_dir_reader_find_by_path(impl_->dirrd.get(), nullptr, here.c_str(), &inode);
    if (rc)
      return sqfs_error(rc, here == path ? path : path + " (at " + here + ")")
          .with_context("image");
    std::unique_ptr<sqfs_inode_generic_t, decltype(&std::free)> owned(inode, &std::free);
    if (node_type(inode) != NodeType::symlink) continue;
    if (++links > 40)
      return Error(Errc::invalid_argument, path + ": too many levels of symbolic links");
    std::string target(reinterpret_cast<const char*>(inode->extra), inode->data.slink.target_size);
    done.pop_back();
    if (target.starts_with("/")) done.clear();
    push_all(target);
  }
  return joined();
}

Result<void> ImageReader::read_file(const std::string& path,
                                    const std::function<Result<void>(const void*, size_t)>& sink) {
  EF_ASSIGN(std::string real, resolve(path));
  sqfs_inode_generic_t* inode = nullptr;
  int rc = sqfs_dir_reader_find_by_path(impl_->dirrd.get(), nullptr, real.c_str(), &inode);
  if (rc) return sqfs_error(rc, path).with_context("image");
  std::unique_ptr<sqfs_inode_generic_t, decltype(&std::free)> owned(inode, &std::free);
  if (node_type(inode) != NodeType::regular)
    return Error(Errc::invalid_argument, path + " is not a regular file");
  sqfs_u64 size = 0;
  sqfs_inode_get_file_size(inode, &size);
  std::vector<char> buf(1 << 20);
  for (sqfs_u64 offset = 0; offset < size;) {
    sqfs_s32 n = sqfs_data_reader_read(impl_->data.get(), inode, offset, buf.data(),
                                       static_cast<sqfs_u32>(buf.size()));
    if (n < 0) return sqfs_error(n, "reading " + path);
    if (n == 0) break;
    EF_TRY(sink(buf.data(), static_cast<size_t>(n)));
    offset += static_cast<sqfs_u64>(n);
  }
  return Ok{};
}

}  // namespace ef::image
