#include "builder/tree/archive_reader.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <vector>

namespace ef::tree {

namespace {

// 64 KiB reads: a data pass copies each buffer on into the compressor's
// blocks while it is still in the core's L2 cache, and an index pass lets
// libarchive seek over a big file's data instead of reading it (1 MiB reads
// made both passes about 40 % slower on a Debian rootfs).
constexpr size_t kReadBlock = 64 << 10;
const std::string kZeros(64 * 1024, '\0');

archive* new_reader() {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  return a;
}

// Prefer the raw bytes of a name: archives from tar and mmdebstrap carry
// bytes, not text, and a C locale must not mangle non-ASCII names.
std::string entry_path(archive_entry* e) {
  if (const char* p = archive_entry_pathname(e)) return p;
  if (const char* p = archive_entry_pathname_utf8(e)) return p;
  return {};
}

std::string entry_hardlink(archive_entry* e) {
  if (const char* p = archive_entry_hardlink(e)) return p;
  if (const char* p = archive_entry_hardlink_utf8(e)) return p;
  return {};
}

std::string entry_symlink(archive_entry* e) {
  if (const char* p = archive_entry_symlink(e)) return p;
  if (const char* p = archive_entry_symlink_utf8(e)) return p;
  return {};
}

}  // namespace

// The outer archive a member is read from, and the state the inner
// archive's read callback needs.
struct ArchiveReader::Outer {
  archive* a = nullptr;
  ~Outer() {
    if (a) archive_read_free(a);
  }
  static la_ssize_t read(archive*, void* self, const void** buf) {
    auto* outer = static_cast<Outer*>(self);
    size_t size = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(outer->a, buf, &size, &offset);
    if (rc == ARCHIVE_EOF) return 0;
    if (rc < ARCHIVE_WARN) return -1;
    return static_cast<la_ssize_t>(size);
  }
};

ArchiveReader::~ArchiveReader() {
  if (a_) archive_read_free(a_);
}

Error ArchiveReader::error(const std::string& what) const {
  const char* msg = a_ ? archive_error_string(a_) : nullptr;
  return Error(Errc::archive,
               label_ + ": " + what + ": " + (msg ? msg : "unknown libarchive error"));
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::open(const SourceInfo& source) {
  std::unique_ptr<ArchiveReader> r(new ArchiveReader());
  r->label_ = source.label.empty() ? source.path : source.label;
  if (source.kind == SourceInfo::Kind::archive_member) {
    r->outer_ = std::make_unique<Outer>();
    r->outer_->a = new_reader();
    if (archive_read_open_filename(r->outer_->a, source.path.c_str(), kReadBlock) != ARCHIVE_OK)
      return Error(Errc::archive, r->label_ + ": cannot open " + source.path + ": " +
                                      archive_error_string(r->outer_->a));
    archive_entry* e = nullptr;
    bool found = false;
    int rc;
    while ((rc = archive_read_next_header(r->outer_->a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
      if (entry_path(e) == source.member) {
        found = true;
        break;
      }
    }
    if (!found)
      return Error(Errc::archive,
                   r->label_ + ": member '" + source.member + "' not found in " + source.path);
    r->a_ = new_reader();
    if (archive_read_open(r->a_, r->outer_.get(), nullptr, &Outer::read, nullptr) != ARCHIVE_OK)
      return r->error("cannot open member '" + source.member + "'");
    return r;
  }
  r->a_ = new_reader();
  if (archive_read_open_filename(r->a_, source.path.c_str(), kReadBlock) != ARCHIVE_OK)
    return r->error("cannot open " + source.path);
  return r;
}

Result<bool> ArchiveReader::next(ArchiveEntry& out) {
  archive_entry* e = nullptr;
  int rc = archive_read_next_header(a_, &e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc < ARCHIVE_WARN) {
    auto offset = static_cast<uint64_t>(archive_filter_bytes(a_, -1));
    return error("after entry " + std::to_string(index_) + ", near offset " +
                 std::to_string(offset) + " (truncated or corrupt archive?)");
  }
  ++index_;
  out = ArchiveEntry{};
  out.path = entry_path(e);
  out.hardlink = entry_hardlink(e);
  out.offset = static_cast<uint64_t>(archive_read_header_position(a_));
  Inode& inode = out.inode;
  inode.type = node_type_from_mode(archive_entry_filetype(e));
  inode.mode = archive_entry_perm(e) & 07777;
  inode.uid = static_cast<uint32_t>(archive_entry_uid(e));
  inode.gid = static_cast<uint32_t>(archive_entry_gid(e));
  inode.mtime = archive_entry_mtime(e);
  inode.size = archive_entry_size_is_set(e) ? static_cast<uint64_t>(archive_entry_size(e)) : 0;
  if (inode.type == NodeType::char_device || inode.type == NodeType::block_device)
    inode.rdev = archive_entry_rdev(e);
  if (inode.type == NodeType::symlink) inode.target = entry_symlink(e);
  if (inode.type != NodeType::regular) inode.size = 0;
  out.has_data = inode.type == NodeType::regular && inode.size > 0;
  archive_entry_xattr_reset(e);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
    inode.xattrs[name] = std::string(static_cast<const char*>(value), size);
  return true;
}

Result<void> ArchiveReader::read_data(
    uint64_t size, const std::function<Result<void>(const void*, size_t)>& sink) {
  uint64_t pos = 0;
  auto zero_fill = [&](uint64_t until) -> Result<void> {
    while (pos < until) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), until - pos));
      EF_TRY(sink(kZeros.data(), n));
      pos += n;
    }
    return Ok{};
  };
  for (;;) {
    const void* buf = nullptr;
    size_t len = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(a_, &buf, &len, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return error("reading data of entry " + std::to_string(index_));
    auto off = static_cast<uint64_t>(offset);
    if (off < pos || off + len > size)
      return Error(Errc::archive, label_ + ": entry " + std::to_string(index_) +
                                      ": data blocks out of order or beyond the declared size");
    EF_TRY(zero_fill(off));
    if (len > 0) EF_TRY(sink(buf, len));
    pos += len;
  }
  return zero_fill(size);
}

Result<std::string> ArchiveReader::read_all(uint64_t size, uint64_t max_size) {
  if (size > max_size)
    return Error(Errc::archive, label_ + ": entry " + std::to_string(index_) + " is " +
                                    std::to_string(size) + " bytes, more than the " +
                                    std::to_string(max_size) + " allowed for it");
  std::string out;
  out.reserve(size);
  EF_TRY(read_data(size, [&](const void* data, size_t n) -> Result<void> {
    out.append(static_cast<const char*>(data), n);
    return Ok{};
  }));
  return out;
}

Result<std::map<std::string, uint64_t>> list_archive_members(const std::string& path) {
  SourceInfo src;
  src.path = path;
  EF_ASSIGN(auto reader, ArchiveReader::open(src));
  std::map<std::string, uint64_t> members;
  ArchiveEntry e;
  for (;;) {
    EF_ASSIGN(bool more, reader->next(e));
    if (!more) break;
    members[e.path] = e.inode.size;
  }
  return members;
}

}  // namespace ef::tree
