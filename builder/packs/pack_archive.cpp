// Packs given as .tar.gz: extracted once into <cache>/packs/<sha256>/ so the
// image writer can stream their files like any directory pack.
#include <unistd.h>

#include <fstream>

#include "builder/packs/pack.hpp"
#include "builder/tree/archive_reader.hpp"
#include "util/sha256.hpp"

namespace ef::packs {

namespace fs = std::filesystem;

namespace {

// A pack's files are manifests, charts and image archives: one larger than
// this is a mistake or a decompression bomb, not content.
constexpr uint64_t kMaxPackFile = 4ull << 30;

// Entry paths must stay inside the pack.
Result<fs::path> safe_relative(const std::string& raw, const std::string& label) {
  fs::path p = fs::path(raw).lexically_normal();
  std::string s = p.generic_string();
  if (s.rfind("./", 0) == 0) s = s.substr(2);
  if (p.is_absolute() || s == ".." || s.rfind("../", 0) == 0)
    return Error(Errc::hostile_entry, label + ": entry '" + raw + "' leaves the pack");
  return fs::path(s);
}

Result<void> extract_to(const fs::path& archive, const fs::path& dir) {
  tree::SourceInfo src;
  src.path = archive.string();
  src.label = archive.string();
  EF_ASSIGN(auto reader, tree::ArchiveReader::open(src));
  tree::ArchiveEntry entry;
  while (true) {
    EF_ASSIGN(bool more, reader->next(entry));
    if (!more) break;
    EF_ASSIGN(auto rel, safe_relative(entry.path, archive.string()));
    if (rel.empty() || rel == ".") continue;
    fs::path out = dir / rel;
    std::error_code ec;
    if (entry.inode.type == tree::NodeType::directory) {
      fs::create_directories(out, ec);
      continue;
    }
    if (entry.inode.type != tree::NodeType::regular)
      return Error(Errc::archive, archive.string() + ": " + entry.path +
                                      ": packs hold regular files and directories only");
    if (entry.inode.size > kMaxPackFile)
      return Error(Errc::archive, archive.string() + ": " + entry.path + ": " +
                                      std::to_string(entry.inode.size) +
                                      " bytes, more than a pack file may hold (4 GiB)");
    fs::create_directories(out.parent_path(), ec);
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    if (!f) return Error(Errc::io, out.string() + ": cannot write");
    EF_TRY(reader->read_data(entry.inode.size, [&](const void* p, size_t n) -> Result<void> {
      f.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
      if (!f) return Error(Errc::io, out.string() + ": write failed");
      return Ok{};
    }));
    f.close();
    fs::permissions(out, static_cast<fs::perms>(entry.inode.mode & 0777), ec);
  }
  return Ok{};
}

}  // namespace

Result<fs::path> extract_pack_archive(const fs::path& archive, const fetch::Cache& cache) {
  EF_ASSIGN(auto digest, sha256_file(archive));
  fs::path final_dir = cache.dir() / "packs" / digest;
  std::error_code ec;
  if (fs::is_directory(final_dir, ec)) return final_dir;
  fs::path tmp = cache.dir() / "packs" / ("tmp-" + digest + "-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Error(Errc::io, tmp.string() + ": cannot create: " + ec.message());
  auto done = extract_to(archive, tmp);
  if (!done) {
    fs::remove_all(tmp, ec);
    return std::move(done).error();
  }
  // The pack root is the archive root, or its single top-level folder.
  fs::path root = tmp;
  if (!fs::exists(tmp / "pack.yaml")) {
    std::vector<fs::path> tops;
    for (const auto& e : fs::directory_iterator(tmp, ec)) tops.push_back(e.path());
    if (tops.size() == 1 && fs::is_directory(tops[0])) root = tops[0];
  }
  fs::path staged = cache.dir() / "packs" / ("ready-" + digest + "-" + std::to_string(::getpid()));
  fs::rename(root, staged, ec);
  if (!ec) fs::rename(staged, final_dir, ec);
  fs::remove_all(tmp, ec);
  fs::remove_all(staged, ec);
  if (!fs::is_directory(final_dir)) return Error(Errc::io, final_dir.string() + ": cannot create");
  return final_dir;
}

}  // namespace ef::packs
