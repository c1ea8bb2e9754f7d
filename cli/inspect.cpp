#include "cli/inspect.hpp"

#include <algorithm>

#include "iso/disk_reader.hpp"
#include "iso/grubenv.hpp"

#include <fmt/format.h>
#include <sys/sysmacros.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "builder/squashfs/reader.hpp"

namespace ef::cli {

namespace {

using tree::NodeType;

char type_char(NodeType t) {
  switch (t) {
    case NodeType::directory:
      return 'd';
    case NodeType::symlink:
      return 'l';
    case NodeType::char_device:
      return 'c';
    case NodeType::block_device:
      return 'b';
    case NodeType::fifo:
      return 'p';
    case NodeType::socket:
      return 's';
    default:
      return '-';
  }
}

std::string mode_string(const squashfs::ImageEntry& e) {
  std::string s(1, type_char(e.type));
  const char* rwx = "rwx";
  for (int i = 0; i < 9; ++i) s += (e.mode & (0400u >> i)) ? rwx[i % 3] : '-';
  auto special = [&](size_t pos, uint32_t bit, char on_x, char on_nox) {
    if (e.mode & bit) s[pos] = s[pos] == 'x' ? on_x : on_nox;
  };
  special(3, 04000, 's', 'S');
  special(6, 02000, 's', 'S');
  special(9, 01000, 't', 'T');
  return s;
}

std::string printable(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

std::string utc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace

Result<void> inspect_list(const std::string& image, bool json, std::ostream& out) {
  EF_ASSIGN(auto reader, squashfs::ImageReader::open(image));
  EF_ASSIGN(auto entries, reader->list());
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : entries) {
      nlohmann::json x = {{"path", e.path},
                          {"type", tree::node_type_name(e.type)},
                          {"mode", fmt::format("{:04o}", e.mode)},
                          {"uid", e.uid},
                          {"gid", e.gid},
                          {"mtime", e.mtime},
                          {"size", e.size},
                          {"inode", e.inode_number},
                          {"nlink", e.nlink}};
      if (e.type == NodeType::symlink) x["target"] = e.target;
      if (e.type == NodeType::char_device || e.type == NodeType::block_device)
        x["device"] = {major(e.rdev), minor(e.rdev)};
      if (!e.xattrs.empty()) {
        x["xattrs"] = nlohmann::json::object();
        for (const auto& [k, v] : e.xattrs) x["xattrs"][k] = printable(v);
      }
      arr.push_back(x);
    }
    out << arr.dump(2) << "\n";
    return Ok{};
  }
  for (const auto& e : entries) {
    std::string size = (e.type == NodeType::char_device || e.type == NodeType::block_device)
                           ? fmt::format("{}, {}", major(e.rdev), minor(e.rdev))
                           : std::to_string(e.size);
    out << fmt::format("{} {:>3} {:>5}/{:<5} {:>12} {} {}", mode_string(e), e.nlink, e.uid, e.gid,
                       size, utc(e.mtime), e.path);
    if (e.type == NodeType::symlink) out << " -> " << e.target;
    out << "\n";
    for (const auto& [k, v] : e.xattrs) out << "    " << k << "=\"" << printable(v) << "\"\n";
  }
  return Ok{};
}

Result<void> inspect_cat(const std::string& image, const std::string& path, std::ostream& out) {
  EF_ASSIGN(auto reader, squashfs::ImageReader::open(image));
  return reader->read_file(path, [&](const void* data, size_t size) -> Result<void> {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) return Error(Errc::io, "cannot write to standard output");
    return Ok{};
  });
}

}  // namespace ef::cli

namespace ef::cli {

Result<void> inspect_disk(const std::string& disk, const std::string& path, std::ostream& out) {
  EF_ASSIGN(auto parts, iso::read_gpt(disk));
  auto esp = std::find_if(parts.begin(), parts.end(), [](const auto& p) { return p.name == iso::kEspLabel; });
  if (!path.empty()) {
    if (esp == parts.end()) return Error(Errc::not_found, "no " + std::string(iso::kEspLabel) + " partition");
    EF_ASSIGN(std::string data, iso::read_fat_file(disk, *esp, path));
    out << data;
    return Ok{};
  }
  out << "partitions (GPT):\n";
  for (size_t i = 0; i < parts.size(); ++i)
    out << "  " << i + 1 << "  " << parts[i].name << "  offset " << parts[i].offset << "  size "
        << (parts[i].size % iso::kMiB == 0 ? std::to_string(parts[i].size / iso::kMiB) + " MiB"
                                              : std::to_string(parts[i].size / 1024) + " KiB")
        << "  guid " << parts[i].guid << "\n";
  if (esp == parts.end()) return Ok{};
  EF_ASSIGN(auto files, iso::list_fat_files(disk, *esp));
  out << "ESP files:\n";
  for (const auto& f : files) out << "  " << f << "\n";
  auto env = iso::read_fat_file(disk, *esp, "/grub/grubenv");
  if (env) {
    auto parsed = iso::parse_grubenv(*env);
    if (parsed) {
      out << "slot state (grubenv):\n";
      for (const auto& [k, v] : *parsed) out << "  " << k << "=" << v << "\n";
    }
  }
  return Ok{};
}

}  // namespace ef::cli
