#include "builder/tree/entry_index.hpp"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <vector>

namespace ef::tree {

namespace {

constexpr char kMagic[8] = {'E', 'F', 'T', 'R', 'E', 'E', '\1', '\n'};
constexpr size_t kHeader = 24;
// type, has_data, mode, uid, gid, mtime, size, rdev, offset, and the four
// length fields (path, hard link, target, xattr count) of an entry with
// empty strings and no xattrs: the smallest an entry can be.
constexpr size_t kFixed = 1 + 1 + 4 * 3 + 8 * 4;
constexpr size_t kSmallestEntry = kFixed + 4 * 4;

void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_string(std::string& out, const std::string& s) {
  put32(out, static_cast<uint32_t>(s.size()));
  out += s;
}
uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

}  // namespace

EntryIndexWriter::EntryIndexWriter() = default;

void EntryIndexWriter::add(const ArchiveEntry& e) {
  const Inode& in = e.inode;
  body_.push_back(static_cast<char>(in.type));
  body_.push_back(e.has_data ? 1 : 0);
  put32(body_, in.mode);
  put32(body_, in.uid);
  put32(body_, in.gid);
  put64(body_, static_cast<uint64_t>(in.mtime));
  put64(body_, in.size);
  put64(body_, in.rdev);
  put64(body_, e.offset);
  put_string(body_, e.path);
  put_string(body_, e.hardlink);
  put_string(body_, in.target);
  put32(body_, static_cast<uint32_t>(in.xattrs.size()));
  for (const auto& [name, value] : in.xattrs) {
    put_string(body_, name);
    put_string(body_, value);
  }
  ++count_;
}

std::string EntryIndexWriter::finish() {
  std::string out(kMagic, sizeof(kMagic));
  put64(out, count_);
  put64(out, XXH3_64bits(body_.data(), body_.size()));
  out += body_;
  body_.clear();
  count_ = 0;
  return out;
}

Error EntryIndexReader::damaged(const std::string& why) const {
  return Error(Errc::io, "entry index " + what_ + " is damaged: " + why);
}

Result<EntryIndexReader> EntryIndexReader::open(std::string_view bytes, std::string what) {
  auto damaged = [&](const std::string& why) {
    return Error(Errc::io, "entry index " + what + " is damaged: " + why);
  };
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    return damaged("not an entry index (bad header)");
  const uint64_t count = get_le(bytes.data() + 8, 8);
  std::string_view body = bytes.substr(kHeader);
  if (count > body.size() / kSmallestEntry)
    return damaged(std::to_string(count) + " entries cannot fit in " + std::to_string(body.size()) +
                   " bytes");
  if (XXH3_64bits(body.data(), body.size()) != get_le(bytes.data() + 16, 8))
    return damaged("checksum mismatch");
  return EntryIndexReader(body, count, std::move(what));
}

Result<bool> EntryIndexReader::next(ArchiveEntry& e) {
  if (read_ == count_) {
    if (at_ != body_.size())
      return damaged(std::to_string(body_.size() - at_) + " bytes after the last entry");
    return false;
  }
  const std::string entry_no = "entry " + std::to_string(read_ + 1);
  auto need = [&](size_t n) { return body_.size() - at_ >= n; };
  auto u32 = [&] {
    uint64_t v = get_le(body_.data() + at_, 4);
    at_ += 4;
    return static_cast<uint32_t>(v);
  };
  auto u64 = [&] {
    uint64_t v = get_le(body_.data() + at_, 8);
    at_ += 8;
    return v;
  };
  auto string = [&](std::string& out) -> Result<void> {
    if (!need(4)) return damaged(entry_no + " ends inside a length");
    uint32_t n = u32();
    if (!need(n)) return damaged(entry_no + " has a string longer than the index");
    out.assign(body_.data() + at_, n);
    at_ += n;
    return Ok{};
  };
  if (!need(kFixed)) return damaged(entry_no + " is cut short");
  e = ArchiveEntry{};
  const auto type = static_cast<uint8_t>(body_[at_]);
  const auto has_data = static_cast<uint8_t>(body_[at_ + 1]);
  at_ += 2;
  if (type > static_cast<uint8_t>(NodeType::socket) || has_data > 1)
    return damaged(entry_no + " has an unknown type or flag");
  e.inode.type = static_cast<NodeType>(type);
  e.has_data = has_data == 1;
  e.inode.mode = u32();
  e.inode.uid = u32();
  e.inode.gid = u32();
  e.inode.mtime = static_cast<int64_t>(u64());
  e.inode.size = u64();
  e.inode.rdev = u64();
  e.offset = u64();
  if (e.inode.mode > 07777) return damaged(entry_no + " has a mode beyond 07777");
  EF_TRY(string(e.path));
  EF_TRY(string(e.hardlink));
  EF_TRY(string(e.inode.target));
  if (!need(4)) return damaged(entry_no + " ends before its xattr count");
  uint32_t xattrs = u32();
  for (uint32_t i = 0; i < xattrs; ++i) {
    std::string name, value;
    EF_TRY(string(name));
    EF_TRY(string(value));
    e.inode.xattrs[std::move(name)] = std::move(value);
  }
  ++read_;
  return true;
}

size_t bound_entry_indexes(const std::filesystem::path& dir, size_t keep) {
  struct Kept {
    std::filesystem::path path;
    struct timespec mtime {};
  };
  std::vector<Kept> indexes;
  size_t removed = 0;
  const time_t now = std::time(nullptr);
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::end(it); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const std::string name = it->path().filename().string();
    if (it->path().extension() == ".idx") {
      indexes.push_back({it->path(), st.st_mtim});
    } else if (name.find(".tmp") != std::string::npos && now - st.st_mtime > 3600) {
      removed += std::filesystem::remove(it->path(), ec) ? 1 : 0;
    }
  }
  if (indexes.size() <= keep) return removed;
  // Newest first; ties by name, so two builds agree on what goes.
  std::sort(indexes.begin(), indexes.end(), [](const Kept& a, const Kept& b) {
    if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec > b.mtime.tv_sec;
    if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec > b.mtime.tv_nsec;
    return a.path < b.path;
  });
  for (size_t i = keep; i < indexes.size(); ++i)
    removed += std::filesystem::remove(indexes[i].path, ec) ? 1 : 0;
  return removed;
}

}  // namespace ef::tree
