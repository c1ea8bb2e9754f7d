#include "builder/agent_layer/elf_info.hpp"

#include <elf.h>

#include <charconv>
#include <cstring>

namespace ef::agent_layer {
namespace {

// Bounds-checked reads of the structures <elf.h> describes: every offset in
// the file is data, never trusted.
class ElfBytes {
 public:
  ElfBytes(std::string_view bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  template <typename T>
  Result<T> at(uint64_t offset) const {
    if (offset > bytes_.size() || bytes_.size() - offset < sizeof(T))
      return error("truncated at offset " + std::to_string(offset));
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }

  // The NUL-terminated string at `offset` of the string table section `strtab`.
  Result<std::string> string(const Elf64_Shdr& strtab, uint64_t offset) const {
    if (offset >= strtab.sh_size || strtab.sh_offset > bytes_.size() ||
        strtab.sh_size > bytes_.size() - strtab.sh_offset)
      return error("string offset " + std::to_string(offset) + " outside its table");
    std::string_view table = bytes_.substr(strtab.sh_offset, strtab.sh_size);
    size_t end = table.find('\0', offset);
    if (end == std::string_view::npos) return error("unterminated string");
    return std::string(table.substr(offset, end - offset));
  }

  Error error(const std::string& what) const {
    return Error(Errc::invalid_argument, name_ + ": malformed ELF file: " + what);
  }

 private:
  std::string_view bytes_;
  const std::string& name_;
};

std::vector<std::string> split_colons(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t colon = s.find(':', start);
    std::string part =
        s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!part.empty()) out.push_back(part);
    if (colon == std::string::npos) return out;
    start = colon + 1;
  }
}

Result<void> read_dynamic(const ElfBytes& elf, const Elf64_Shdr& dyn, const Elf64_Shdr& strtab,
                          ElfInfo& out) {
  for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dyn.sh_size; off += sizeof(Elf64_Dyn)) {
    EF_ASSIGN(auto d, elf.at<Elf64_Dyn>(dyn.sh_offset + off));
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag != DT_NEEDED && d.d_tag != DT_RPATH && d.d_tag != DT_RUNPATH) continue;
    EF_ASSIGN(auto text, elf.string(strtab, d.d_un.d_val));
    if (d.d_tag == DT_NEEDED) out.needed.push_back(text);
    if (d.d_tag == DT_RPATH) out.rpath = split_colons(text);
    if (d.d_tag == DT_RUNPATH) out.runpath = split_colons(text);
  }
  return Ok{};
}

// .gnu.version_r: a chain of Verneed records (one per library), each with a
// chain of Vernaux records (one per version needed from it).
Result<void> read_verneed(const ElfBytes& elf, const Elf64_Shdr& sec, const Elf64_Shdr& strtab,
                          ElfInfo& out) {
  uint64_t off = sec.sh_offset;
  // sh_info counts the Verneed records; the bound keeps a looping chain finite.
  for (uint64_t i = 0; i < sec.sh_info; ++i) {
    EF_ASSIGN(auto need, elf.at<Elf64_Verneed>(off));
    uint64_t aux_off = off + need.vn_aux;
    for (uint16_t j = 0; j < need.vn_cnt; ++j) {
      EF_ASSIGN(auto aux, elf.at<Elf64_Vernaux>(aux_off));
      EF_ASSIGN(auto name, elf.string(strtab, aux.vna_name));
      out.version_needs.push_back(std::move(name));
      if (aux.vna_next == 0) break;
      aux_off += aux.vna_next;
    }
    if (need.vn_next == 0) break;
    off += need.vn_next;
  }
  return Ok{};
}

}  // namespace

std::string GlibcVersion::str() const {
  std::string s;
  for (int p : parts) s += (s.empty() ? "" : ".") + std::to_string(p);
  return s;
}

std::optional<GlibcVersion> parse_glibc_version(std::string_view name) {
  if (name.starts_with("GLIBC_")) name.remove_prefix(6);
  GlibcVersion v;
  while (!name.empty()) {
    int part = 0;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), part);
    if (ec != std::errc() || ptr == name.data()) return std::nullopt;
    v.parts.push_back(part);
    name.remove_prefix(static_cast<size_t>(ptr - name.data()));
    if (name.empty()) break;
    if (name[0] != '.' || name.size() == 1) return std::nullopt;
    name.remove_prefix(1);
  }
  if (v.parts.size() < 2) return std::nullopt;
  return v;
}

std::optional<GlibcVersion> ElfInfo::max_glibc() const {
  std::optional<GlibcVersion> best;
  for (const auto& n : version_needs) {
    if (!n.starts_with("GLIBC_")) continue;
    auto v = parse_glibc_version(n);
    if (v && (!best || *best < *v)) best = v;
  }
  return best;
}

Result<ElfInfo> read_elf_info(std::string_view bytes, const std::string& name) {
  ElfBytes elf(bytes, name);
  if (bytes.size() < EI_NIDENT || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0)
    return Error(Errc::invalid_argument, name + ": not an ELF file");
  if (bytes[EI_CLASS] != ELFCLASS64 || bytes[EI_DATA] != ELFDATA2LSB)
    return Error(Errc::invalid_argument,
                 name + ": only 64-bit little-endian ELF files are supported");
  EF_ASSIGN(auto eh, elf.at<Elf64_Ehdr>(0));
  if (eh.e_shentsize != sizeof(Elf64_Shdr)) return elf.error("unexpected section header size");
  std::vector<Elf64_Shdr> sections;
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    EF_ASSIGN(auto sh, elf.at<Elf64_Shdr>(eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr)));
    sections.push_back(sh);
  }
  ElfInfo info;
  for (const auto& sh : sections) {
    if (sh.sh_type != SHT_DYNAMIC && sh.sh_type != SHT_GNU_verneed) continue;
    if (sh.sh_link >= sections.size()) return elf.error("section link out of range");
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    if (sh.sh_type == SHT_DYNAMIC) EF_TRY(read_dynamic(elf, sh, strtab, info));
    if (sh.sh_type == SHT_GNU_verneed) EF_TRY(read_verneed(elf, sh, strtab, info));
  }
  return info;
}

}  // namespace ef::agent_layer
