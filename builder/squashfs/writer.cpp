#include "builder/squashfs/writer.hpp"

#include <fcntl.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "builder/squashfs/caching_compressor.hpp"
#include "builder/squashfs/fd_file.hpp"
#include "builder/squashfs/fragments.hpp"
#include "builder/tree/data_stream.hpp"
#include "image/sqfs_handles.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::squashfs {

using image::sqfs_error_name;
using image::SqfsPtr;

namespace {

using tree::Inode;
using tree::Node;
using tree::NodeType;

constexpr size_t kDeviceBlockSize = 4096;

Result<SQFS_COMPRESSOR> compressor_id(const std::string& name) {
  if (name == "zstd") return SQFS_COMP_ZSTD;
  if (name == "xz") return SQFS_COMP_XZ;
  if (name == "gzip") return SQFS_COMP_GZIP;
  if (name == "lz4") return SQFS_COMP_LZ4;
  return Error(Errc::invalid_argument,
               "unknown compression '" + name + "' (expected zstd, xz, gzip or lz4)");
}

Error sqfs_error(int code, const std::string& what) {
  return Error(Errc::image, what + ": " + sqfs_error_name(code));
}

uint16_t mode_with_type(const Inode& inode) {
  return static_cast<uint16_t>(tree::mode_type_bits(inode.type) | (inode.mode & 07777));
}

// squashfs stores 32-bit unsigned timestamps.
uint32_t squash_time(int64_t t) {
  if (t < 0) return 0;
  if (t > 0xFFFFFFFFLL) return 0xFFFFFFFFu;
  return static_cast<uint32_t>(t);
}

bool storable_xattr(const std::string& name) {
  return name.rfind("user.", 0) == 0 || name.rfind("trusted.", 0) == 0 ||
         name.rfind("security.", 0) == 0;
}

struct InodeInfo {
  uint32_t number = 0;
  uint64_t ref = 0;
  uint32_t nlink = 0;
  uint32_t parent = 0;         // directories: the parent directory's number
  const Node* node = nullptr;  // first name (directories: the only one)
};

// Everything one image write needs, created in libsquashfs's setup order.
class Writer final : public tree::FileSink {
 public:
  Result<void> open(int fd, const WriterOptions& options);
  Result<void> write_tree(tree::Tree& tree, const std::function<void(uint64_t)>& progress);
  std::unordered_set<uint32_t> shared_tail_sizes(const Node& root) const;
  Result<void> finish(const Node& root);
  ImageStats stats() const { return stats_; }

  Result<void> begin_file(Inode& inode) override;
  Result<void> append(const void* data, size_t size) override;
  Result<void> end_file() override;

 private:
  void number_inodes(const Node& dir);
  Result<uint32_t> xattr_index(const Inode& inode);
  Result<sqfs_inode_generic_t*> make_inode(const Node& node, InodeInfo& info);
  Result<sqfs_inode_generic_t*> make_dir_inode(const Node& node, const InodeInfo& info,
                                               uint32_t xattr);
  Result<void> write_inode(const Node& node, InodeInfo& info);
  Result<void> write_tables();
  Result<void> pad();

  SqfsPtr<sqfs_file_t> file_;
  SqfsPtr<sqfs_compressor_t> cmp_;
  SqfsPtr<sqfs_compressor_t> cached_cmp_;  // cmp_ through the block cache, for the processor
  SqfsPtr<sqfs_block_writer_t> blkwr_;
  SqfsPtr<sqfs_frag_table_t> fragtbl_;
  SqfsPtr<sqfs_block_processor_t> proc_;
  SqfsPtr<sqfs_id_table_t> idtbl_;
  SqfsPtr<sqfs_xattr_writer_t> xwr_;
  SqfsPtr<sqfs_meta_writer_t> im_, dm_;
  SqfsPtr<sqfs_dir_writer_t> dirw_;
  sqfs_super_t super_{};

  // File inodes the block processor creates; it keeps the slot's address
  // until finish, so the map (node-based) must not move its values.
  std::unordered_map<const Inode*, sqfs_inode_generic_t*> file_inodes_;
  std::unordered_map<const Inode*, FragmentRef> fragments_;  // files with a tail
  std::unordered_map<const Inode*, InodeInfo> info_;
  std::vector<const Inode*> order_;  // by inode number - 1
  std::function<void(uint64_t)> progress_;
  std::function<void(const tree::Inode&, std::string_view)> observer_;
  const Inode* current_ = nullptr;  // the file being appended to
  uint64_t file_pos_ = 0;           // bytes of it appended so far
  uint64_t tail_from_ = 0;          // where its tail (the fragment) starts
  std::string tail_;                // the tail's bytes, for the packer
  std::optional<FragmentPacker> packer_;
  uint32_t block_size_ = 0;
  uint64_t last_progress_ = 0;
  bool has_dropped_ = false;  // some xattr was left out (named by dropped_xattrs)
  ImageStats stats_;
};

// The xattrs `xattr_index` leaves out, with the entry paths, in path order;
// a hard-linked inode is named by its first path.
void collect_dropped_xattrs(const Node& dir, const std::string& path,
                            std::unordered_set<const Inode*>& seen,
                            std::vector<DroppedXattr>& out) {
  for (const auto& [name, child] : dir.children) {
    std::string child_path = path + "/" + name;
    if (seen.insert(child->inode.get()).second)
      for (const auto& [xattr, value] : child->inode->xattrs)
        if (!storable_xattr(xattr)) out.push_back({xattr, child_path});
    if (child->is_dir()) collect_dropped_xattrs(*child, child_path, seen, out);
  }
}

Result<void> Writer::open(int fd, const WriterOptions& o) {
  EF_ASSIGN(SQFS_COMPRESSOR id, compressor_id(o.compression));
  sqfs_compressor_config_t cfg;
  int rc = sqfs_compressor_config_init(&cfg, id, o.block_size, 0);
  if (rc)
    return sqfs_error(rc, "compressor settings (block size " + std::to_string(o.block_size) + ")");
  if (o.level)
    cfg.level = static_cast<sqfs_u32>(*o.level);  // lz4 has no level (the profile refuses one)

  observer_ = o.data_observer;
  block_size_ = o.block_size;
  file_.reset(fd_file_create(fd, o.block_cache.get()));
  if (!file_) return Error(Errc::image, "out of memory creating the output file");
  sqfs_compressor_t* raw = nullptr;
  if ((rc = sqfs_compressor_create(&cfg, &raw)))
    return sqfs_error(rc, "creating the " + o.compression + " compressor");
  cmp_.reset(raw);

  if ((rc = sqfs_super_init(&super_, o.block_size, squash_time(o.mod_time), id)))
    return sqfs_error(rc, "initialising the super block");
  if ((rc = sqfs_super_write(&super_, file_.get())))
    return sqfs_error(rc, "writing the super block");
  rc = cmp_->write_options(cmp_.get(), file_.get());
  if (rc < 0) return sqfs_error(rc, "writing compressor options");
  if (rc > 0) super_.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

  fragtbl_.reset(sqfs_frag_table_create(0));
  if (!fragtbl_) return Error(Errc::image, "out of memory creating the fragment table");
  blkwr_.reset(
      wrap_writer(sqfs_block_writer_create(file_.get(), kDeviceBlockSize, 0), fragtbl_.get()));
  if (!blkwr_) return Error(Errc::image, "out of memory creating the block writer");

  unsigned workers = o.workers ? o.workers : std::max(1u, std::thread::hardware_concurrency());
  sqfs_block_processor_desc_t desc{};
  desc.size = sizeof(desc);
  desc.max_block_size = o.block_size;
  desc.num_workers = workers;
  // Blocks in flight bound the memory (not file sizes). Every file puts at
  // least two entries in this queue (its tail and an end marker), so with
  // tar2sqfs's 10 per worker a base of small files kept the feeding thread
  // waiting on the workers; 32 per worker measured 0.1 s faster on a Debian
  // rootfs at zstd 3 (docs/benchmarks.md). At most 512 blocks: 64 MiB.
  desc.max_backlog = std::min(32 * workers, 512u);
  // Tails never reach the processor (FragmentPacker packs them), so it
  // needs no fragment table and no way to read fragment blocks back.
  desc.cmp = cmp_.get();
  if (o.block_cache) {
    EF_ASSIGN(sqfs_compressor_t * cached, caching_compressor(cmp_.get(), o.block_cache));
    cached_cmp_.reset(cached);
    desc.cmp = cached;
  }
  desc.wr = blkwr_.get();
  sqfs_block_processor_t* proc = nullptr;
  if ((rc = sqfs_block_processor_create_ex(&desc, &proc)))
    return sqfs_error(rc, "creating the block processor");
  proc_.reset(proc);
  packer_.emplace(proc_.get(), fragtbl_.get(), o.block_size);
  tail_.reserve(o.block_size);

  idtbl_.reset(sqfs_id_table_create(0));
  xwr_.reset(sqfs_xattr_writer_create(0));
  im_.reset(sqfs_meta_writer_create(file_.get(), cmp_.get(), 0));
  dm_.reset(sqfs_meta_writer_create(file_.get(), cmp_.get(), SQFS_META_WRITER_KEEP_IN_MEMORY));
  if (!idtbl_ || !xwr_ || !im_ || !dm_)
    return Error(Errc::image, "out of memory creating metadata writers");
  dirw_.reset(sqfs_dir_writer_create(dm_.get(), 0));
  if (!dirw_) return Error(Errc::image, "out of memory creating the directory writer");
  return Ok{};
}

Result<void> Writer::begin_file(Inode& inode) {
  current_ = &inode;
  file_pos_ = 0;
  tail_from_ = inode.size - inode.size % block_size_;
  tail_.clear();
  auto& slot = file_inodes_[&inode];
  int rc = sqfs_block_processor_begin_file(proc_.get(), &slot, nullptr, 0);
  if (rc) return sqfs_error(rc, "starting a file");
  return Ok{};
}

// Whole blocks go to the block processor; the tail (the last size % block
// size bytes) is kept for the fragment packer.
Result<void> Writer::append(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  if (file_pos_ + size > current_->size)
    return Error(Errc::internal, "more file data than the file's size");
  size_t whole = file_pos_ < tail_from_ ? std::min<uint64_t>(size, tail_from_ - file_pos_) : 0;
  if (whole) {
    int rc = sqfs_block_processor_append(proc_.get(), bytes, whole);
    if (rc) return sqfs_error(rc, "compressing file data");
  }
  tail_.append(bytes + whole, size - whole);
  stats_.data_bytes_in += size;
  file_pos_ += size;
  if (observer_) observer_(*current_, std::string_view(bytes, size));
  if (progress_ && stats_.data_bytes_in - last_progress_ >= (8u << 20)) {
    last_progress_ = stats_.data_bytes_in;
    progress_(stats_.data_bytes_in);
  }
  return Ok{};
}

Result<void> Writer::end_file() {
  if (file_pos_ != current_->size) return Error(Errc::internal, "less file data than its size");
  int rc = sqfs_block_processor_end_file(proc_.get());
  if (rc) return sqfs_error(rc, "finishing a file");
  if (!tail_.empty()) {
    EF_ASSIGN(FragmentRef ref,
              packer_->add(reinterpret_cast<const unsigned char*>(tail_.data()), tail_.size()));
    fragments_[current_] = ref;
  }
  return Ok{};
}

// The tail sizes (size % block size) that more than one regular file of the
// tree has: only those tails can repeat (a hard-linked inode counts once).
std::unordered_set<uint32_t> Writer::shared_tail_sizes(const Node& root) const {
  std::unordered_map<uint32_t, uint32_t> count;
  std::unordered_set<const Inode*> seen;
  std::vector<const Node*> stack{&root};
  while (!stack.empty()) {
    const Node* dir = stack.back();
    stack.pop_back();
    for (const auto& [name, child] : dir->children) {
      const Inode* inode = child->inode.get();
      if (child->is_dir()) {
        stack.push_back(child.get());
      } else if (inode->type == NodeType::regular && inode->size % block_size_ != 0 &&
                 seen.insert(inode).second) {
        ++count[static_cast<uint32_t>(inode->size % block_size_)];
      }
    }
  }
  std::unordered_set<uint32_t> shared;
  for (const auto& [size, n] : count)
    if (n > 1) shared.insert(size);
  return shared;
}

// Numbers inodes so that every inode comes before the directories that list
// it: subdirectories first (depth-first), then this directory's entries in
// name order. A hard-linked inode keeps the number of its first name.
void Writer::number_inodes(const Node& dir) {
  for (const auto& [name, child] : dir.children)
    if (child->is_dir()) number_inodes(*child);
  for (const auto& [name, child] : dir.children) {
    InodeInfo& info = info_[child->inode.get()];
    info.nlink += 1;
    if (info.number != 0) continue;
    order_.push_back(child->inode.get());
    info.number = static_cast<uint32_t>(order_.size());
    info.node = child.get();
  }
}

Result<uint32_t> Writer::xattr_index(const Inode& inode) {
  size_t storable = 0;
  for (const auto& [name, value] : inode.xattrs) storable += storable_xattr(name) ? 1 : 0;
  if (storable < inode.xattrs.size()) has_dropped_ = true;
  if (storable == 0) return 0xFFFFFFFFu;
  int rc = sqfs_xattr_writer_begin(xwr_.get(), 0);
  for (const auto& [name, value] : inode.xattrs) {
    if (rc || !storable_xattr(name)) continue;
    rc = sqfs_xattr_writer_add(xwr_.get(), name.c_str(), value.data(), value.size());
  }
  uint32_t index = 0xFFFFFFFFu;
  if (!rc) rc = sqfs_xattr_writer_end(xwr_.get(), &index);
  if (rc) return sqfs_error(rc, "storing extended attributes");
  return index;
}

Result<sqfs_inode_generic_t*> Writer::make_dir_inode(const Node& node, const InodeInfo& info,
                                                     uint32_t xattr) {
  int rc = sqfs_dir_writer_begin(dirw_.get(), 0);
  for (const auto& [name, child] : node.children) {
    if (rc) break;
    const InodeInfo& ci = info_.at(child->inode.get());
    rc = sqfs_dir_writer_add_entry(dirw_.get(), name.c_str(), ci.number, ci.ref,
                                   mode_with_type(*child->inode));
  }
  if (!rc) rc = sqfs_dir_writer_end(dirw_.get());
  if (rc) return sqfs_error(rc, "writing directory entries");
  sqfs_inode_generic_t* inode = sqfs_dir_writer_create_inode(dirw_.get(), 0, xattr, info.parent);
  if (!inode) return Error(Errc::image, "out of memory creating a directory inode");
  return inode;
}

Result<sqfs_inode_generic_t*> Writer::make_inode(const Node& node, InodeInfo& info) {
  const Inode& in = *node.inode;
  EF_ASSIGN(uint32_t xattr, xattr_index(in));
  sqfs_inode_generic_t* inode = nullptr;
  if (in.type == NodeType::directory) {
    EF_ASSIGN(inode, make_dir_inode(node, info, xattr));
  } else if (in.type == NodeType::regular) {
    auto it = file_inodes_.find(&in);
    if (it == file_inodes_.end() || !it->second)
      return Error(Errc::internal, "file data was never written");
    inode = it->second;
    it->second = nullptr;
    // The processor saw only the whole blocks.
    int rc = sqfs_inode_set_file_size(inode, in.size);
    if (auto f = fragments_.find(&in); !rc && f != fragments_.end())
      rc = sqfs_inode_set_frag_location(inode, f->second.index, f->second.offset);
    if (rc) {
      std::free(inode);
      return sqfs_error(rc, "setting a file's size and fragment");
    }
    if (info.nlink > 1 || xattr != 0xFFFFFFFFu) {
      sqfs_inode_make_extended(inode);
      inode->data.file_ext.nlink = info.nlink;
    }
  } else {
    size_t extra = in.type == NodeType::symlink ? in.target.size() : 0;
    inode = static_cast<sqfs_inode_generic_t*>(std::calloc(1, sizeof(*inode) + extra));
    if (!inode) return Error(Errc::image, "out of memory creating an inode");
    switch (in.type) {
      case NodeType::symlink:
        inode->base.type = SQFS_INODE_SLINK;
        inode->data.slink.nlink = info.nlink;
        inode->data.slink.target_size = static_cast<sqfs_u32>(extra);
        std::memcpy(inode->extra, in.target.data(), extra);
        break;
      case NodeType::char_device:
      case NodeType::block_device:
        inode->base.type = in.type == NodeType::char_device ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
        inode->data.dev.nlink = info.nlink;
        // Linux's 32-bit device encoding; glibc's dev_t agrees in the low 32 bits.
        inode->data.dev.devno = static_cast<sqfs_u32>(in.rdev);
        break;
      default:
        inode->base.type = in.type == NodeType::fifo ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
        inode->data.ipc.nlink = info.nlink;
        break;
    }
  }
  int rc = sqfs_inode_set_xattr_index(inode, xattr);
  if (!rc && xattr == 0xFFFFFFFFu && in.type != NodeType::directory)
    rc = sqfs_inode_make_basic(inode);
  if (rc) {
    std::free(inode);
    return sqfs_error(rc, "setting inode attributes");
  }
  return inode;
}

Result<void> Writer::write_inode(const Node& node, InodeInfo& info) {
  EF_ASSIGN(sqfs_inode_generic_t * inode, make_inode(node, info));
  std::unique_ptr<sqfs_inode_generic_t, decltype(&std::free)> owned(inode, &std::free);
  const Inode& in = *node.inode;
  if (in.type == NodeType::directory) {
    if (inode->base.type == SQFS_INODE_DIR)
      inode->data.dir.nlink = info.nlink;
    else
      inode->data.dir_ext.nlink = info.nlink;
  }
  inode->base.mode = mode_with_type(in);
  inode->base.mod_time = squash_time(in.mtime);
  inode->base.inode_number = info.number;
  int rc = sqfs_id_table_id_to_index(idtbl_.get(), in.uid, &inode->base.uid_idx);
  if (!rc) rc = sqfs_id_table_id_to_index(idtbl_.get(), in.gid, &inode->base.gid_idx);
  if (rc) return sqfs_error(rc, "storing owner ids");
  sqfs_u64 block = 0;
  sqfs_u32 offset = 0;
  sqfs_meta_writer_get_position(im_.get(), &block, &offset);
  info.ref = (block << 16) | offset;
  if ((rc = sqfs_meta_writer_write_inode(im_.get(), inode)))
    return sqfs_error(rc, "writing an inode");
  return Ok{};
}

Result<void> Writer::write_tree(tree::Tree& tree, const std::function<void(uint64_t)>& progress) {
  progress_ = progress;
  packer_->expect_tail_sizes(shared_tail_sizes(tree.root()));
  EF_TRY(tree::stream_file_data(tree, *this));
  EF_TRY(packer_->flush());
  stats_.tail_bytes_hashed = packer_->hashed_bytes();
  int rc = sqfs_block_processor_finish(proc_.get());
  if (rc) return sqfs_error(rc, "finishing data blocks");
  return finish(tree.root());
}

Result<void> Writer::finish(const Node& root) {
  number_inodes(root);
  order_.push_back(root.inode.get());
  InodeInfo& root_info = info_[root.inode.get()];
  root_info.number = static_cast<uint32_t>(order_.size());
  root_info.node = &root;
  root_info.nlink = 1;
  // Like mksquashfs, the root's ".." points one past the last inode.
  root_info.parent = root_info.number + 1;
  // A directory's link count is 2 plus its subdirectories.
  for (const Inode* inode : order_) {
    InodeInfo& info = info_.at(inode);
    if (inode->type != NodeType::directory) continue;
    info.nlink = 2;
    for (const auto& [name, child] : info.node->children) {
      if (!child->is_dir()) continue;
      info.nlink += 1;
      info_.at(child->inode.get()).parent = info.number;
    }
  }

  super_.inode_table_start = file_->get_size(file_.get());
  for (const Inode* inode : order_) {
    InodeInfo& info = info_.at(inode);
    auto written = write_inode(*info.node, info);
    if (!written) return written;
  }
  if (has_dropped_) {
    std::unordered_set<const Inode*> seen = {root.inode.get()};
    for (const auto& [xattr, value] : root.inode->xattrs)
      if (!storable_xattr(xattr)) stats_.dropped_xattrs.push_back({xattr, "/"});
    collect_dropped_xattrs(root, "", seen, stats_.dropped_xattrs);
  }
  super_.inode_count = static_cast<sqfs_u32>(order_.size());
  stats_.inodes = super_.inode_count;
  int rc = sqfs_meta_writer_flush(im_.get());
  if (!rc) rc = sqfs_meta_writer_flush(dm_.get());
  if (rc) return sqfs_error(rc, "flushing metadata");
  super_.root_inode_ref = root_info.ref;
  super_.directory_table_start = file_->get_size(file_.get());
  if ((rc = sqfs_meta_write_write_to_file(dm_.get())))
    return sqfs_error(rc, "writing the directory table");
  return write_tables();
}

Result<void> Writer::write_tables() {
  int rc = sqfs_frag_table_write(fragtbl_.get(), file_.get(), &super_, cmp_.get());
  if (rc) return sqfs_error(rc, "writing the fragment table");
  if ((rc = sqfs_id_table_write(idtbl_.get(), file_.get(), &super_, cmp_.get())))
    return sqfs_error(rc, "writing the id table");
  if ((rc = sqfs_xattr_writer_flush(xwr_.get(), file_.get(), &super_, cmp_.get())))
    return sqfs_error(rc, "writing extended attributes");
  super_.bytes_used = file_->get_size(file_.get());
  if ((rc = sqfs_super_write(&super_, file_.get())))
    return sqfs_error(rc, "updating the super block");
  return pad();
}

// Images are padded to 4 KiB so they can be written to block devices as-is.
Result<void> Writer::pad() {
  sqfs_u64 size = file_->get_size(file_.get());
  size_t rem = size % kDeviceBlockSize;
  if (rem) {
    std::vector<char> zeros(kDeviceBlockSize - rem, 0);
    int rc = file_->write_at(file_.get(), size, zeros.data(), zeros.size());
    if (rc) return sqfs_error(rc, "padding the image");
  }
  stats_.bytes = file_->get_size(file_.get());
  return Ok{};
}

}  // namespace

bool compressor_supported(const std::string& name) {
  auto id = compressor_id(name);
  if (!id) return false;
  sqfs_compressor_config_t cfg;
  if (sqfs_compressor_config_init(&cfg, *id, SQFS_DEFAULT_BLOCK_SIZE, 0)) return false;
  sqfs_compressor_t* cmp = nullptr;
  if (sqfs_compressor_create(&cfg, &cmp)) return false;
  sqfs_destroy(cmp);
  return true;
}

Result<ImageStats> write_image(tree::Tree& tree, const std::filesystem::path& out,
                               const WriterOptions& options,
                               const std::function<void(uint64_t)>& progress) {
  EF_ASSIGN(auto target, AtomicFile::create(out));
  ImageStats stats;
  {
    Writer writer;
    auto written = writer.open(target.fd(), options);
    if (written) written = writer.write_tree(tree, progress);
    if (!written) return std::move(written).error().with_context("writing " + out.string());
    stats = writer.stats();
  }  // libsquashfs objects are gone here; the descriptor stays the AtomicFile's
  // Every block is in: the image becomes the cache's pack (before the
  // rename, which commit() does not need).
  if (options.block_cache) options.block_cache->commit(target.fd());
  // The image is hashed from the page cache while commit() waits for the
  // disk; the hasher reads (pread) through a duplicate of the descriptor,
  // which commit's close and rename leave open.
  UniqueFd reader(::fcntl(target.fd(), F_DUPFD_CLOEXEC, 0));
  if (!reader)
    return errno_error(Errc::io, "cannot duplicate the descriptor of " + out.string(), errno);
  auto digest = std::async(std::launch::async,
                           [&reader, &out] { return sha256_fd(reader.get(), out.string()); });
  auto committed = target.commit();
  auto sha = digest.get();
  if (!committed) return std::move(committed).error();
  if (!sha) return std::move(sha).error();
  stats.sha256 = std::move(*sha);
  return stats;
}

}  // namespace ef::squashfs
