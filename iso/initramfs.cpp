#include "iso/initramfs.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "iso/boot_data.hpp"

namespace ef::iso {
namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_write_free)>;
using EntryPtr = std::unique_ptr<archive_entry, decltype(&archive_entry_free)>;

class CpioWriter {
 public:
  explicit CpioWriter(int64_t epoch) : a_(archive_write_new(), archive_write_free), epoch_(epoch) {}

  Result<void> open(std::string* out) {
    if (archive_write_set_format_cpio_newc(a_.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a_.get(), 0) != ARCHIVE_OK ||
        archive_write_open(a_.get(), out, nullptr, append, nullptr) != ARCHIVE_OK)
      return error("open");
    return Ok{};
  }

  Result<void> add(const std::string& path, unsigned mode, const std::string* content) {
    EntryPtr e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_mode(e.get(), mode);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), epoch_, 0);
    archive_entry_set_ino(e.get(), ++ino_);
    archive_entry_set_nlink(e.get(), content ? 1 : 2);
    archive_entry_set_size(e.get(), content ? static_cast<la_int64_t>(content->size()) : 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return error(path);
    if (content && !content->empty() &&
        archive_write_data(a_.get(), content->data(), content->size()) < 0)
      return error(path);
    return Ok{};
  }

  Result<void> close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return error("close");
    return Ok{};
  }

 private:
  static la_ssize_t append(archive*, void* out, const void* buf, size_t n) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  Error error(const std::string& what) {
    const char* msg = archive_error_string(a_.get());
    return Error(Errc::io, "initramfs cpio: " + what + ": " + (msg ? msg : "libarchive error"));
  }

  ArchivePtr a_;
  int64_t epoch_;
  int64_t ino_ = 0;
};

}  // namespace

std::vector<std::string> default_persistent_paths() {
  return {
      "/home",         "/root",       "/var/lib/containerd", "/var/lib/kubelet", "/var/lib/rancher",
      "/var/lib/etcd", "/var/lib/cni"};
}

Result<std::string> build_extra_initramfs(const ExtraInitramfs& spec) {
  std::string paths;
  for (const std::string& p : spec.persistent_paths) {
    if (!p.starts_with("/") || p.find('\n') != std::string::npos || p == "/")
      return Error(Errc::invalid_argument,
                   "persistent path '" + p + "' must be an absolute path below /");
    paths += p + "\n";
  }
  std::string order;
  for (const auto& m : spec.modules) order += m.file + "\n";
  std::string script(initramfs_script());

  std::string out;
  CpioWriter w(spec.epoch);
  EF_TRY(w.open(&out));
  EF_TRY(w.add("edgeforge", AE_IFDIR | 0755, nullptr));
  EF_TRY(w.add("edgeforge/modules", AE_IFDIR | 0755, nullptr));
  for (const auto& m : spec.modules)
    EF_TRY(w.add("edgeforge/modules/" + m.file, AE_IFREG | 0644, &m.content));
  EF_TRY(w.add("edgeforge/modules/order", AE_IFREG | 0644, &order));
  EF_TRY(w.add("edgeforge/persistent-paths", AE_IFREG | 0644, &paths));
  if (!spec.verity_open.empty()) {
    EF_TRY(w.add("edgeforge/bin", AE_IFDIR | 0755, nullptr));
    EF_TRY(w.add("edgeforge/bin/verity-open", AE_IFREG | 0755, &spec.verity_open));
  }
  EF_TRY(w.add("scripts", AE_IFDIR | 0755, nullptr));
  EF_TRY(w.add("scripts/edgeforge", AE_IFREG | 0755, &script));
  EF_TRY(w.close());
  return out;
}

}  // namespace ef::iso
