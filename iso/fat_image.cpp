#include "iso/fat_image.hpp"

#include <unistd.h>
#include <algorithm>

#include <cstdio>
#include <set>

#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::iso {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

Result<void> mtools(std::vector<std::string> argv, int64_t epoch) {
  ProcessOptions opts;
  opts.apt_package = "mtools";
  opts.capture_stdout = true;  // never on our stdout, which may carry `build --json`
  opts.env = {{"SOURCE_DATE_EPOCH", std::to_string(epoch)},
              {"MTOOLSRC", "/dev/null"},
              {"MTOOLS_SKIP_CHECK", "1"}};
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return Ok{};
}

}  // namespace

std::string fat_uuid(uint32_t volume_id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04X-%04X", volume_id >> 16, volume_id & 0xffff);
  return buf;
}

uint64_t fat_size_for(const std::vector<FatFile>& files) {
  uint64_t bytes = 0;
  for (const auto& f : files) bytes += (f.content.size() + 4095) / 4096 * 4096;
  // FAT tables, directories and cluster slack: 10 % plus 2 MiB.
  uint64_t need = bytes + bytes / 10 + 2 * kMiB;
  return (need + kMiB - 1) / kMiB * kMiB;
}

Result<void> make_fat_image(const FatSpec& spec, const std::filesystem::path& out,
                            const std::filesystem::path& work_dir) {
  if (spec.size == 0 || spec.size % kMiB != 0)
    return Error(Errc::invalid_argument, "FAT image size must be a positive multiple of 1 MiB");
  std::error_code ec;
  std::filesystem::remove(out, ec);
  {
    EF_ASSIGN(auto file, AtomicFile::create(out));
    if (::ftruncate(file.fd(), static_cast<off_t>(spec.size)) != 0)
      return Error(Errc::io, out.string() + ": cannot size the FAT image");
    EF_TRY(file.commit());
  }
  char serial[16];
  std::snprintf(serial, sizeof serial, "%08x", spec.volume_id);
  std::vector<std::string> fmt = {
      "mformat", "-i", out.string(), "-T", std::to_string(spec.size / 512),
      "-h",      "64", "-s",         "32", "-N",
      serial,    "-v", spec.label};
  if (spec.size >= 64 * kMiB) fmt.push_back("-F");
  fmt.push_back("::");
  EF_TRY(mtools(fmt, spec.epoch));

  std::vector<FatFile const*> files;
  std::set<std::string> dirs;
  for (const auto& f : spec.files) {
    files.push_back(&f);
    for (size_t p = f.path.find('/', 1); p != std::string::npos; p = f.path.find('/', p + 1))
      dirs.insert(f.path.substr(0, p));
  }
  std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->path < b->path; });
  for (const std::string& d : dirs)  // std::set: parents sort before children
    EF_TRY(mtools({"mmd", "-i", out.string(), "::" + d}, spec.epoch));
  std::filesystem::path staged = work_dir / "fat-file";
  for (const FatFile* f : files) {
    EF_TRY(write_file_atomic(staged, f->content));
    auto r =
        mtools({"mcopy", "-o", "-i", out.string(), staged.string(), "::" + f->path}, spec.epoch);
    if (!r) return std::move(r).error().with_context(out.string() + ": adding " + f->path);
  }
  std::filesystem::remove(staged, ec);
  return Ok{};
}

}  // namespace ef::iso
