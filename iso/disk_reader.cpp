#include "iso/disk_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::iso {
namespace {

constexpr uint64_t kSector = 512;

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Mixed-endian GUID bytes -> "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
std::string guid_text(const unsigned char* g) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                static_cast<unsigned>(le(g, 4)), static_cast<unsigned>(le(g + 4, 2)),
                static_cast<unsigned>(le(g + 6, 2)), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
  return buf;
}

Result<std::string> read_range(const std::filesystem::path& file, uint64_t offset, size_t size) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return Error(Errc::io, file.string() + ": cannot open");
  std::string data(size, '\0');
  bool ok = std::fseek(f, static_cast<long>(offset), SEEK_SET) == 0 && std::fread(data.data(), 1, size, f) == size;
  std::fclose(f);
  if (!ok) return Error(Errc::image, file.string() + ": short read at offset " + std::to_string(offset));
  return data;
}

Result<ProcessResult> mtools(const std::vector<std::string>& argv) {
  ProcessOptions opts;
  opts.apt_package = "mtools";
  opts.capture_stdout = true;
  opts.env = {{"MTOOLSRC", "/dev/null"}, {"MTOOLS_SKIP_CHECK", "1"}};
  EF_ASSIGN(auto res, run_process(argv, opts));
  if (!res.success()) return process_failure(argv, res);
  return res;
}

}  // namespace

bool is_gpt_disk(const std::filesystem::path& file) {
  auto head = read_range(file, kSector, 8);
  return head && *head == "EFI PART";
}

Result<std::vector<Partition>> read_gpt(const std::filesystem::path& file) {
  EF_ASSIGN(std::string hdr, read_range(file, kSector, 92));
  const auto* h = reinterpret_cast<const unsigned char*>(hdr.data());
  if (hdr.compare(0, 8, "EFI PART") != 0) return Error(Errc::image, file.string() + ": no GPT header at LBA 1");
  uint64_t entries_lba = le(h + 72, 8);
  uint64_t count = le(h + 80, 4), entry_size = le(h + 84, 4);
  if (entry_size < 128 || count > 1024) return Error(Errc::image, file.string() + ": implausible GPT header");
  EF_ASSIGN(std::string table, read_range(file, entries_lba * kSector, count * entry_size));
  std::vector<Partition> parts;
  for (uint64_t i = 0; i < count; ++i) {
    const auto* e = reinterpret_cast<const unsigned char*>(table.data() + i * entry_size);
    if (std::all_of(e, e + 16, [](unsigned char c) { return c == 0; })) continue;  // unused entry
    Partition p;
    p.guid = guid_text(e + 16);
    uint64_t first = le(e + 32, 8), last = le(e + 40, 8);
    p.offset = first * kSector;
    p.size = (last - first + 1) * kSector;
    for (int c = 0; c < 36; ++c) {  // UTF-16LE name; edgeforge writes ASCII
      uint64_t ch = le(e + 56 + 2 * c, 2);
      if (ch == 0) break;
      p.name += ch < 128 ? static_cast<char>(ch) : '?';
    }
    parts.push_back(p);
  }
  return parts;
}

Result<std::string> read_fat_file(const std::filesystem::path& disk, const Partition& part,
                                  const std::string& path) {
  EF_ASSIGN(auto res, mtools({"mtype", "-i", disk.string() + "@@" + std::to_string(part.offset), "::" + path}));
  return std::move(res.stdout_data);
}

Result<std::vector<std::string>> list_fat_files(const std::filesystem::path& disk, const Partition& part) {
  EF_ASSIGN(auto res, mtools({"mdir", "-/", "-b", "-i", disk.string() + "@@" + std::to_string(part.offset), "::"}));
  std::vector<std::string> files;
  std::istringstream in(res.stdout_data);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("::")) files.push_back(line.substr(2));
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace ef::iso
