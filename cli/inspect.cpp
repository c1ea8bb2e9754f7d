#include "cli/inspect.hpp"

#include <algorithm>

#include "device/grubenv.hpp"
#include "iso/disk_reader.hpp"
#include "iso/ext4_reader.hpp"

#include <fmt/format.h>
#include <sys/sysmacros.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "image/squashfs_reader.hpp"
#include "util/json_fields.hpp"

namespace ef::cli {

namespace {

using image::NodeType;

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

std::string mode_string(const image::ImageEntry& e) {
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

namespace {

void print_entries(const std::vector<image::ImageEntry>& entries, bool json, std::ostream& out) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : entries) {
      nlohmann::json x = {{"path", e.path},
                          {"type", image::node_type_name(e.type)},
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
    return;
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
}

}  // namespace

Result<void> inspect_list(const std::string& image, bool json, std::ostream& out) {
  EF_ASSIGN(auto reader, image::ImageReader::open(image));
  EF_ASSIGN(auto entries, reader->list());
  print_entries(entries, json, out);
  return Ok{};
}

Result<void> inspect_cat(const std::string& image, const std::string& path, std::ostream& out) {
  EF_ASSIGN(auto reader, image::ImageReader::open(image));
  return reader->read_file(path, [&](const void* data, size_t size) -> Result<void> {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) return Error(Errc::io, "cannot write to standard output");
    return Ok{};
  });
}

}  // namespace ef::cli

namespace ef::cli {

namespace {

std::string size_text(uint64_t size) {
  return size % iso::kMiB == 0 ? std::to_string(size / iso::kMiB) + " MiB"
                               : std::to_string(size / 1024) + " KiB";
}

Result<iso::Partition> find_partition(const std::vector<iso::Partition>& parts,
                                      const std::string& name) {
  // Short names: esp, a, b, slot-a, slot-b, persist, persistent.
  std::string want = name == "a" || name == "b"       ? "edgeforge-slot-" + name
                     : name == "persistent"           ? std::string(iso::kPersistentLabel)
                     : name.starts_with("edgeforge-") ? name
                                                      : "edgeforge-" + name;
  for (const auto& p : parts)
    if (p.name == want) return p;
  std::string names;
  for (const auto& p : parts) names += (names.empty() ? "" : ", ") + p.name;
  return Error(Errc::not_found, "no partition '" + name + "' (the disk has " + names + ")");
}

enum class PartKind { fat, squashfs, ext4, other };

PartKind kind_of(const iso::Partition& p) {
  if (p.name == iso::kEspLabel) return PartKind::fat;
  if (p.name == iso::kSlotALabel || p.name == iso::kSlotBLabel) return PartKind::squashfs;
  if (p.name == iso::kPersistentLabel) return PartKind::ext4;
  return PartKind::other;
}

// One line on what a slot holds: its squashfs, or nothing.
std::string slot_summary(const std::string& disk, const iso::Partition& p) {
  auto reader = image::ImageReader::open(disk, p.offset, p.size);
  if (!reader) return "empty (no squashfs image)";
  auto info = (*reader)->info();
  std::string text = "squashfs, " + info.compression + ", " + std::to_string(info.inode_count) +
                     " inodes, " + std::to_string(info.bytes_used) + " bytes";
  // Images with the agent say what they are in its config.
  std::string config;
  auto read = (*reader)->read_file("/etc/edgeforge/agent.json",
                                   [&](const void* d, size_t n) -> Result<void> {
                                     config.append(static_cast<const char*>(d), n);
                                     return Ok{};
                                   });
  auto j = nlohmann::json::parse(config, nullptr, false);
  const std::string product = string_of(j, "product"), version = string_of(j, "version");
  if (read && !product.empty() && !version.empty())
    text = product + " " + version + " (" + text + ")";
  return text;
}

}  // namespace

Result<void> inspect_disk(const std::string& disk, const DiskQuery& q, std::ostream& out) {
  EF_ASSIGN(auto parts, iso::read_gpt(disk));
  if (!q.partition.empty() || !q.path.empty()) {
    EF_ASSIGN(iso::Partition part,
              find_partition(parts, q.partition.empty() ? "esp" : q.partition));
    auto ctx = [&](Error e) { return std::move(e).with_context("partition " + part.name); };
    switch (kind_of(part)) {
      case PartKind::fat:
        if (!q.path.empty()) {
          auto data = iso::read_fat_file(disk, part, q.path);
          if (!data) return ctx(std::move(data).error());
          out << *data;
        } else {
          auto files = iso::list_fat_files(disk, part);
          if (!files) return ctx(std::move(files).error());
          for (const auto& f : *files) out << f << "\n";
        }
        return Ok{};
      case PartKind::squashfs: {
        auto reader = image::ImageReader::open(disk, part.offset, part.size);
        if (!reader)
          return Error(Errc::not_found,
                       "partition " + part.name + " holds no squashfs image (empty slot?)");
        if (q.path.empty()) {
          auto entries = (*reader)->list();
          if (!entries) return ctx(std::move(entries).error());
          print_entries(*entries, q.json, out);
          return Ok{};
        }
        auto r = (*reader)->read_file(q.path, [&](const void* d, size_t n) -> Result<void> {
          out.write(static_cast<const char*>(d), static_cast<std::streamsize>(n));
          if (!out) return Error(Errc::io, "cannot write to standard output");
          return Ok{};
        });
        if (!r) return ctx(std::move(r).error());
        return Ok{};
      }
      case PartKind::ext4: {
        if (q.path.empty()) {
          auto entries = iso::list_ext4(disk, part.offset);
          if (!entries) return ctx(std::move(entries).error());
          print_entries(*entries, q.json, out);
          return Ok{};
        }
        auto data = iso::read_ext4_file(disk, part.offset, q.path);
        if (!data) return ctx(std::move(data).error());
        out << *data;
        return Ok{};
      }
      case PartKind::other:
        return Error(Errc::invalid_argument,
                     "partition " + part.name + " holds no filesystem edgeforge reads");
    }
  }
  out << "partitions (GPT):\n";
  for (size_t i = 0; i < parts.size(); ++i)
    out << "  " << i + 1 << "  " << parts[i].name << "  offset " << parts[i].offset << "  size "
        << size_text(parts[i].size) << "  guid " << parts[i].guid << "\n";
  for (const auto& p : parts)
    if (kind_of(p) == PartKind::squashfs) out << p.name << ": " << slot_summary(disk, p) << "\n";
  auto esp = std::find_if(parts.begin(), parts.end(),
                          [](const auto& p) { return p.name == iso::kEspLabel; });
  if (esp == parts.end()) return Ok{};
  EF_ASSIGN(auto files, iso::list_fat_files(disk, *esp));
  out << "ESP files:\n";
  for (const auto& f : files) out << "  " << f << "\n";
  auto env = iso::read_fat_file(disk, *esp, "/grub/grubenv");
  if (env) {
    auto parsed = device::parse_grubenv(*env);
    if (parsed) {
      out << "slot state (grubenv):\n";
      for (const auto& [k, v] : *parsed) out << "  " << k << "=" << v << "\n";
    }
  }
  return Ok{};
}

}  // namespace ef::cli
