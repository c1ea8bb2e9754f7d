#include "tests/support/fixtures.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <memory>
#include <stdexcept>

namespace ef::test {

TarEntry TarEntry::file(std::string path, std::string content, uint32_t mode) {
  TarEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}
TarEntry TarEntry::dir(std::string path, uint32_t mode) {
  TarEntry e;
  e.type = Type::dir;
  e.path = std::move(path);
  e.mode = mode;
  return e;
}
TarEntry TarEntry::symlink(std::string path, std::string target) {
  TarEntry e;
  e.type = Type::symlink;
  e.path = std::move(path);
  e.target = std::move(target);
  e.mode = 0777;
  return e;
}
TarEntry TarEntry::hardlink(std::string path, std::string target) {
  TarEntry e;
  e.type = Type::hardlink;
  e.path = std::move(path);
  e.target = std::move(target);
  return e;
}

namespace {
void check(int rc, archive* a, const char* what) {
  if (rc < ARCHIVE_WARN)
    throw std::runtime_error(std::string(what) + ": " + archive_error_string(a));
}
}  // namespace

void write_tar(const std::filesystem::path& out, const std::vector<TarEntry>& entries,
               TarCompression compression) {
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            &archive_write_free);
  check(archive_write_set_format_pax_restricted(a.get()), a.get(), "format");
  switch (compression) {
    case TarCompression::none:
      break;
    case TarCompression::gzip:
      check(archive_write_add_filter_gzip(a.get()), a.get(), "gzip");
      break;
    case TarCompression::zstd:
      check(archive_write_add_filter_zstd(a.get()), a.get(), "zstd");
      break;
    case TarCompression::xz:
      check(archive_write_add_filter_xz(a.get()), a.get(), "xz");
      break;
  }
  check(archive_write_open_filename(a.get(), out.c_str()), a.get(), "open");
  for (const auto& e : entries) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> ent(archive_entry_new(),
                                                                      &archive_entry_free);
    archive_entry_set_pathname(ent.get(), e.path.c_str());
    archive_entry_set_uid(ent.get(), e.uid);
    archive_entry_set_gid(ent.get(), e.gid);
    archive_entry_set_mtime(ent.get(), e.mtime, 0);
    for (const auto& [k, v] : e.xattrs)
      archive_entry_xattr_add_entry(ent.get(), k.c_str(), v.data(), v.size());
    unsigned type = AE_IFREG;
    switch (e.type) {
      case TarEntry::Type::file:
        type = AE_IFREG;
        break;
      case TarEntry::Type::dir:
        type = AE_IFDIR;
        break;
      case TarEntry::Type::symlink:
        type = AE_IFLNK;
        break;
      case TarEntry::Type::hardlink:
        type = AE_IFREG;
        break;
      case TarEntry::Type::chr:
        type = AE_IFCHR;
        break;
      case TarEntry::Type::blk:
        type = AE_IFBLK;
        break;
      case TarEntry::Type::fifo:
        type = AE_IFIFO;
        break;
    }
    archive_entry_set_filetype(ent.get(), type);
    archive_entry_set_perm(ent.get(), e.mode & 07777);
    if (e.type == TarEntry::Type::symlink) archive_entry_set_symlink(ent.get(), e.target.c_str());
    if (e.type == TarEntry::Type::hardlink) {
      archive_entry_set_hardlink(ent.get(), e.target.c_str());
      archive_entry_set_size(ent.get(), 0);
    }
    if (e.type == TarEntry::Type::chr || e.type == TarEntry::Type::blk)
      archive_entry_set_rdev(ent.get(), makedev(e.rdev_major, e.rdev_minor));
    int64_t size = 0;
    if (e.type == TarEntry::Type::file) {
      size = e.sparse_offset + static_cast<int64_t>(e.content.size());
      archive_entry_set_size(ent.get(), size);
      if (e.sparse_offset > 0)
        archive_entry_sparse_add_entry(ent.get(), e.sparse_offset,
                                       static_cast<int64_t>(e.content.size()));
    }
    check(archive_write_header(a.get(), ent.get()), a.get(), "header");
    if (e.type == TarEntry::Type::file && !e.content.empty()) {
      if (e.sparse_offset > 0) {
        std::string zeros(static_cast<size_t>(e.sparse_offset), '\0');
        archive_write_data(a.get(), zeros.data(), zeros.size());
      }
      archive_write_data(a.get(), e.content.data(), e.content.size());
    }
  }
  check(archive_write_close(a.get()), a.get(), "close");
}

std::string word_text(std::mt19937_64& rng, size_t size) {
  static const char* words[] = {"edge", "forge", "slot",  "bundle", "chunk", "verity", "squash",
                                "tree", "node",  "store", "kernel", "grub",  "device", "agent"};
  std::string out;
  while (out.size() < size) {
    out += words[rng() % 14];
    out += (rng() % 7 == 0) ? "\n" : " ";
    if (rng() % 5 == 0) out += std::to_string(rng() % 100000);
  }
  out.resize(size);
  return out;
}

}  // namespace ef::test
