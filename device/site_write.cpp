// Writing rendered site files onto a root directory (install time).
#include <system_error>

#include "device/site.hpp"
#include "util/atomic_file.hpp"

namespace ef::site {

namespace fs = std::filesystem;

Result<void> write_site_files(const std::vector<SiteFile>& files, const fs::path& root) {
  for (const auto& f : files) {
    fs::path target = root / fs::path(f.path).relative_path();
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return Error(Errc::io, target.parent_path().string() + ": cannot create: " + ec.message());
    if (f.kind == SiteFile::Kind::symlink) {
      fs::remove(target, ec);
      fs::create_symlink(f.content, target, ec);
      if (ec) return Error(Errc::io, target.string() + ": cannot link: " + ec.message());
      continue;
    }
    EF_TRY(write_file_atomic(target, f.content));
    fs::permissions(target, static_cast<fs::perms>(f.mode), ec);
    if (ec) return Error(Errc::io, target.string() + ": cannot set mode: " + ec.message());
  }
  return Ok{};
}

}  // namespace ef::site
