#include "util/pe_file.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "util/sha256.hpp"

namespace ef::pe {
namespace {

constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();

constexpr size_t kDosHeaderSize = 0x40;
constexpr size_t kLfanewOffset = 0x3c;
constexpr size_t kPeSignatureSize = 4;
constexpr size_t kCoffHeaderSize = 20;
constexpr uint16_t kPe32PlusMagic = 0x20b;
constexpr size_t kPe32PlusFixedSize = 112;  // the optional header before its data directories
constexpr size_t kDataDirectorySize = 8;
constexpr size_t kCertificateDirectory = 4;
constexpr size_t kSectionHeaderSize = 40;
constexpr size_t kChecksumSize = 4;
constexpr uint32_t kMaxFileAlignment = 0x10000;

// Field offsets in the COFF file header.
constexpr size_t kCoffNumberOfSections = 2;
constexpr size_t kCoffPointerToSymbolTable = 8;
constexpr size_t kCoffSizeOfOptionalHeader = 16;

// Field offsets in the PE32+ optional header.
constexpr size_t kOptSizeOfInitializedData = 8;
constexpr size_t kOptSectionAlignment = 32;
constexpr size_t kOptFileAlignment = 36;
constexpr size_t kOptSizeOfImage = 56;
constexpr size_t kOptSizeOfHeaders = 60;
constexpr size_t kOptCheckSum = 64;
constexpr size_t kOptNumberOfRvaAndSizes = 108;

// Field offsets in a section header.
constexpr size_t kSecVirtualSize = 8;
constexpr size_t kSecVirtualAddress = 12;
constexpr size_t kSecSizeOfRawData = 16;
constexpr size_t kSecPointerToRawData = 20;
constexpr size_t kSecCharacteristics = 36;
constexpr size_t kSectionNameSize = 8;

// IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ
constexpr uint32_t kDataSectionCharacteristics = 0x00000040 | 0x40000000;

// WIN_CERTIFICATE: dwLength, wRevision 2.0, wCertificateType PKCS_SIGNED_DATA;
// firmware walks the table in 8-byte steps.
constexpr size_t kWinCertificateHeaderSize = 8;
constexpr uint16_t kWinCertRevision = 0x0200;
constexpr uint16_t kWinCertTypePkcsSignedData = 0x0002;
constexpr uint64_t kCertificateAlignment = 8;

uint16_t get16(std::string_view s, uint64_t at) {
  auto b = [&](uint64_t i) { return static_cast<uint16_t>(static_cast<unsigned char>(s[at + i])); };
  return static_cast<uint16_t>(b(0) | b(1) << 8);
}

uint32_t get32(std::string_view s, uint64_t at) {
  auto b = [&](uint64_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24;
}

void put16(std::string& s, uint64_t at, uint16_t v) {
  s[at] = static_cast<char>(v & 0xff);
  s[at + 1] = static_cast<char>(v >> 8);
}

void put32(std::string& s, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string hex(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kDigits[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return "0x" + digits;
}

std::string range(uint64_t begin, uint64_t end) {
  return "[" + hex(begin) + ", " + hex(end) + ")";
}

uint64_t align_up(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

bool is_power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

Error malformed(const std::string& what) {
  return Error(Errc::invalid_argument, "malformed PE image: " + what);
}

// "section 2 (.data)", with bytes that are not printable shown as '?' (names
// come from untrusted files and end up on a terminal).
std::string describe(const Section& s, size_t index) {
  std::string name = s.name;
  for (char& c : name)
    if (c < 0x20 || c > 0x7e) c = '?';
  return "section " + std::to_string(index) + " (" + name + ")";
}

// The size a section takes in memory; linkers leave VirtualSize 0 for
// sections whose raw size says it.
uint64_t virtual_extent(const Section& s) {
  return s.virtual_size != 0 ? s.virtual_size : s.raw_size;
}

Section read_section(std::string_view image, uint64_t at) {
  Section s;
  std::string_view name = image.substr(at, kSectionNameSize);
  s.name = std::string(name.substr(0, name.find('\0')));
  s.virtual_size = get32(image, at + kSecVirtualSize);
  s.virtual_address = get32(image, at + kSecVirtualAddress);
  s.raw_size = get32(image, at + kSecSizeOfRawData);
  s.raw_offset = get32(image, at + kSecPointerToRawData);
  return s;
}

void write_section(std::string& image, uint64_t at, const Section& s) {
  image.replace(at, kSectionHeaderSize, kSectionHeaderSize, '\0');
  image.replace(at, s.name.size(), s.name);
  put32(image, at + kSecVirtualSize, s.virtual_size);
  put32(image, at + kSecVirtualAddress, s.virtual_address);
  put32(image, at + kSecSizeOfRawData, s.raw_size);
  put32(image, at + kSecPointerToRawData, s.raw_offset);
  put32(image, at + kSecCharacteristics, kDataSectionCharacteristics);
}

// DOS header, PE signature, COFF header and the optional header's fixed
// part; fills everything of `l` but the sections and the certificate table.
Result<void> parse_headers(std::string_view image, PeLayout& l) {
  const uint64_t size = image.size();
  if (size < kDosHeaderSize)
    return malformed("the file is " + std::to_string(size) +
                     " bytes, too small for a DOS header (64 bytes)");
  if (image[0] != 'M' || image[1] != 'Z') return malformed("no MZ signature at offset 0x0");
  const uint64_t pe = get32(image, kLfanewOffset);
  if (pe + kPeSignatureSize + kCoffHeaderSize > size)
    return malformed("e_lfanew at offset 0x3c points to " + hex(pe) +
                     ", too close to the end of the file (" + hex(size) +
                     " bytes) for the PE headers");
  if (image.substr(pe, kPeSignatureSize) != std::string_view("PE\0\0", kPeSignatureSize))
    return malformed("no PE signature at offset " + hex(pe));

  const uint64_t coff = pe + kPeSignatureSize;
  l.coff_header_offset = coff;
  l.machine = get16(image, coff);
  const uint64_t opt = coff + kCoffHeaderSize;
  l.optional_header_offset = opt;
  const uint16_t opt_size = get16(image, coff + kCoffSizeOfOptionalHeader);
  if (opt + 2 > size) return malformed("no optional header at offset " + hex(opt));
  const uint16_t magic = get16(image, opt);
  if (magic != kPe32PlusMagic)
    return malformed("optional header magic " + hex(magic) + " at offset " + hex(opt) +
                     " is not PE32+ (0x20b)");
  if (opt_size < kPe32PlusFixedSize)
    return malformed("SizeOfOptionalHeader " + std::to_string(opt_size) + " at offset " +
                     hex(coff + kCoffSizeOfOptionalHeader) +
                     " is smaller than a PE32+ optional header (112 bytes)");
  if (opt + opt_size > size)
    return malformed("the optional header " + range(opt, opt + opt_size) +
                     " runs past the end of the file (" + hex(size) + " bytes)");

  l.section_alignment = get32(image, opt + kOptSectionAlignment);
  l.file_alignment = get32(image, opt + kOptFileAlignment);
  l.size_of_image = get32(image, opt + kOptSizeOfImage);
  l.size_of_headers = get32(image, opt + kOptSizeOfHeaders);
  l.checksum_offset = opt + kOptCheckSum;
  l.number_of_rva_and_sizes = get32(image, opt + kOptNumberOfRvaAndSizes);
  if (!is_power_of_two(l.section_alignment))
    return malformed("SectionAlignment " + hex(l.section_alignment) + " at offset " +
                     hex(opt + kOptSectionAlignment) + " is not a power of two");
  // The specification's upper bound; it also bounds the padding
  // add_sections() writes.
  if (!is_power_of_two(l.file_alignment) || l.file_alignment > kMaxFileAlignment)
    return malformed("FileAlignment " + hex(l.file_alignment) + " at offset " +
                     hex(opt + kOptFileAlignment) + " is not a power of two up to 0x10000");
  if (kPe32PlusFixedSize + uint64_t{l.number_of_rva_and_sizes} * kDataDirectorySize > opt_size)
    return malformed("NumberOfRvaAndSizes " + std::to_string(l.number_of_rva_and_sizes) +
                     " at offset " + hex(opt + kOptNumberOfRvaAndSizes) +
                     " does not fit in the optional header (" + std::to_string(opt_size) +
                     " bytes)");
  if (l.size_of_headers > size)
    return malformed("SizeOfHeaders " + hex(l.size_of_headers) + " at offset " +
                     hex(opt + kOptSizeOfHeaders) + " is past the end of the file (" + hex(size) +
                     " bytes)");
  l.section_table_offset = opt + opt_size;
  if (l.number_of_rva_and_sizes > kCertificateDirectory) {
    const uint64_t entry = opt + kPe32PlusFixedSize + kCertificateDirectory * kDataDirectorySize;
    l.certificate_entry_offset = entry;
    l.certificate_table = {get32(image, entry), get32(image, entry + 4)};
  }
  return Ok{};
}

// The section table: inside the headers, every section's bytes inside the
// file after the headers, no two sections sharing bytes or memory.
Result<void> parse_sections(std::string_view image, PeLayout& l) {
  const uint64_t count = get16(image, l.coff_header_offset + kCoffNumberOfSections);
  const uint64_t table_end = l.section_table_offset + count * kSectionHeaderSize;
  if (table_end > l.size_of_headers)
    return malformed("the section table " + range(l.section_table_offset, table_end) + " of " +
                     std::to_string(count) + " sections runs past SizeOfHeaders (" +
                     hex(l.size_of_headers) + ")");
  for (uint64_t i = 0; i < count; ++i) {
    Section s = read_section(image, l.section_table_offset + i * kSectionHeaderSize);
    const uint64_t raw_end = uint64_t{s.raw_offset} + s.raw_size;
    if (s.raw_size > 0 && s.raw_offset < l.size_of_headers)
      return malformed(describe(s, i) + ": its data at " + hex(s.raw_offset) +
                       " overlaps the headers (SizeOfHeaders " + hex(l.size_of_headers) + ")");
    if (s.raw_size > 0 && raw_end > image.size())
      return malformed(describe(s, i) + ": its data " + range(s.raw_offset, raw_end) +
                       " runs past the end of the file (" + hex(image.size()) + " bytes)");
    if (s.virtual_address + virtual_extent(s) > kMax32 + 1)
      return malformed(describe(s, i) + ": its memory range at " + hex(s.virtual_address) +
                       " runs past 4 GiB");
    l.sections.push_back(std::move(s));
  }

  std::vector<size_t> order(l.sections.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto overlap = [&](auto key, auto extent, const char* what) -> Result<void> {
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return key(l.sections[a]) < key(l.sections[b]); });
    std::optional<size_t> previous;
    for (size_t i : order) {
      if (extent(l.sections[i]) == 0) continue;
      if (previous &&
          key(l.sections[*previous]) + extent(l.sections[*previous]) > key(l.sections[i]))
        return malformed(describe(l.sections[*previous], *previous) + " and " +
                         describe(l.sections[i], i) + " overlap in " + what + " at " +
                         hex(key(l.sections[i])));
      previous = i;
    }
    return Ok{};
  };
  EF_TRY(overlap([](const Section& s) { return uint64_t{s.raw_offset}; },
                 [](const Section& s) { return uint64_t{s.raw_size}; }, "the file"));
  EF_TRY(overlap([](const Section& s) { return uint64_t{s.virtual_address}; }, virtual_extent,
                 "memory"));
  return Ok{};
}

// Where the headers and the sections' bytes end in the file.
uint64_t data_end(const PeLayout& l) {
  uint64_t end = l.size_of_headers;
  for (const Section& s : l.sections)
    if (s.raw_size > 0) end = std::max(end, uint64_t{s.raw_offset} + s.raw_size);
  return end;
}

// Where the sections end in memory.
uint64_t virtual_end(const PeLayout& l) {
  uint64_t end = l.size_of_headers;
  for (const Section& s : l.sections)
    end = std::max(end, uint64_t{s.virtual_address} + virtual_extent(s));
  return end;
}

Result<void> parse_certificate_table(std::string_view image, PeLayout& l) {
  const DataDirectory& table = l.certificate_table;
  if (table.size == 0) return Ok{};
  const uint64_t end = uint64_t{table.address} + table.size;
  if (end > image.size())
    return malformed("the certificate table " + range(table.address, end) + " (data directory at " +
                     hex(*l.certificate_entry_offset) + ") runs past the end of the file (" +
                     hex(image.size()) + " bytes)");
  if (table.address < data_end(l))
    return malformed("the certificate table at " + hex(table.address) +
                     " overlaps the headers or sections, which end at " + hex(data_end(l)));
  return Ok{};
}

// `image` without its signature: the certificate-table entry and CheckSum
// zeroed, the table's bytes cut off when they end the file (otherwise they
// stay as plain trailing data, which a new signature then covers).
std::string without_signature(std::string_view image, const PeLayout& l) {
  std::string out(image);
  const DataDirectory& table = l.certificate_table;
  if (table.size > 0 && uint64_t{table.address} + table.size == image.size())
    out.resize(table.address);
  if (l.certificate_entry_offset) {
    put32(out, *l.certificate_entry_offset, 0);
    put32(out, *l.certificate_entry_offset + 4, 0);
  }
  put32(out, l.checksum_offset, 0);
  return out;
}

Result<void> check_new_sections(const PeLayout& l, const std::vector<NewSection>& sections) {
  std::vector<std::string> names;
  for (const Section& s : l.sections) names.push_back(s.name);
  for (const NewSection& s : sections) {
    if (s.name.empty() || s.name.size() > kSectionNameSize ||
        s.name.find('\0') != std::string::npos)
      return Error(Errc::invalid_argument,
                   "PE section name '" + s.name + "' must be 1 to 8 characters");
    if (s.data.empty()) return Error(Errc::invalid_argument, "PE section " + s.name + " is empty");
    if (std::find(names.begin(), names.end(), s.name) != names.end())
      return Error(Errc::invalid_argument, "the PE image already has a section " + s.name);
    names.push_back(s.name);
  }
  return Ok{};
}

// Room for `count` more section headers after the table: before SizeOfHeaders
// and the first section's bytes, and not holding anything.
Result<void> check_header_room(std::string_view image, const PeLayout& l, size_t count) {
  const uint64_t table_end = l.section_table_offset + l.sections.size() * kSectionHeaderSize;
  const uint64_t new_end = table_end + count * kSectionHeaderSize;
  uint64_t room_end = l.size_of_headers;
  for (const Section& s : l.sections)
    if (s.raw_size > 0) room_end = std::min(room_end, uint64_t{s.raw_offset});
  if (new_end > room_end)
    return Error(Errc::invalid_argument,
                 "no room for " + std::to_string(count) +
                     " more section headers in the PE image: they would end at " + hex(new_end) +
                     ", the first section's data starts at " + hex(room_end));
  const std::string_view room = image.substr(table_end, new_end - table_end);
  if (std::any_of(room.begin(), room.end(), [](char c) { return c != '\0'; }))
    return Error(Errc::invalid_argument, "the bytes after the PE section table at " +
                                             hex(table_end) +
                                             " are in use: no room for new section headers");
  return Ok{};
}

}  // namespace

Result<PeLayout> parse(std::string_view image) {
  PeLayout l;
  EF_TRY(parse_headers(image, l));
  EF_TRY(parse_sections(image, l));
  EF_TRY(parse_certificate_table(image, l));
  return l;
}

Result<std::string> add_sections(std::string_view image, const std::vector<NewSection>& sections) {
  EF_ASSIGN(PeLayout l, parse(image));
  EF_TRY(check_new_sections(l, sections));
  EF_TRY(check_header_room(image, l, sections.size()));
  const std::string body = without_signature(image, l);
  // The new sections' bytes go right after the existing ones; what followed
  // them (a COFF symbol table) moves behind, so the sections stay contiguous
  // as the Authenticode hash assumes.
  const uint64_t old_end = data_end(l);
  std::string out = body.substr(0, old_end);
  uint64_t address = align_up(virtual_end(l), l.section_alignment);
  uint64_t offset = align_up(old_end, l.file_alignment);
  uint64_t added_raw = 0;
  uint64_t header = l.section_table_offset + l.sections.size() * kSectionHeaderSize;
  for (const NewSection& n : sections) {
    const uint64_t raw_size = align_up(n.data.size(), l.file_alignment);
    if (address + n.data.size() > kMax32 || offset + raw_size > kMax32)
      return Error(Errc::invalid_argument,
                   "the PE image would grow past 4 GiB with section " + n.name);
    Section s{n.name, static_cast<uint32_t>(address), static_cast<uint32_t>(n.data.size()),
              static_cast<uint32_t>(offset), static_cast<uint32_t>(raw_size)};
    out.resize(offset, '\0');
    out += n.data;
    out.resize(offset + raw_size, '\0');
    write_section(out, header, s);
    header += kSectionHeaderSize;
    address = align_up(address + n.data.size(), l.section_alignment);
    offset += raw_size;
    added_raw += raw_size;
  }
  const uint64_t shift = out.size() - old_end;
  out += body.substr(old_end);
  if (out.size() > kMax32 || address > kMax32)
    return Error(Errc::invalid_argument, "the PE image would grow past 4 GiB");

  const uint64_t coff = l.coff_header_offset;
  const uint64_t opt = l.optional_header_offset;
  put16(out, coff + kCoffNumberOfSections,
        static_cast<uint16_t>(l.sections.size() + sections.size()));
  const uint64_t symbols = get32(out, coff + kCoffPointerToSymbolTable);
  if (symbols != 0 && symbols >= old_end)
    put32(out, coff + kCoffPointerToSymbolTable, static_cast<uint32_t>(symbols + shift));
  put32(out, opt + kOptSizeOfImage,
        static_cast<uint32_t>(std::max<uint64_t>(l.size_of_image, address)));
  const uint64_t initialized = get32(out, opt + kOptSizeOfInitializedData) + added_raw;
  put32(out, opt + kOptSizeOfInitializedData, static_cast<uint32_t>(std::min(initialized, kMax32)));
  return out;
}

Result<std::string> prepare_for_signing(std::string_view image) {
  EF_ASSIGN(PeLayout l, parse(image));
  if (!l.certificate_entry_offset)
    return Error(Errc::invalid_argument,
                 "the PE image has no certificate table entry (NumberOfRvaAndSizes is " +
                     std::to_string(l.number_of_rva_and_sizes) + ", at least 5 needed)");
  std::string out = without_signature(image, l);
  out.resize(align_up(out.size(), kCertificateAlignment), '\0');
  return out;
}

Result<std::string> attach_signature(std::string_view prepared, std::string_view pkcs7_der) {
  EF_ASSIGN(PeLayout l, parse(prepared));
  if (!l.certificate_entry_offset || l.certificate_table.size != 0 ||
      prepared.size() % kCertificateAlignment != 0)
    return Error(Errc::internal, "attach_signature needs an image from prepare_for_signing");
  const uint64_t length = kWinCertificateHeaderSize + pkcs7_der.size();
  const uint64_t padded = align_up(length, kCertificateAlignment);
  if (prepared.size() + padded > kMax32)
    return Error(Errc::invalid_argument, "the signed PE image would be larger than 4 GiB");
  std::string out(prepared);
  const uint64_t at = out.size();
  out.resize(at + padded, '\0');
  put32(out, at, static_cast<uint32_t>(length));
  put16(out, at + 4, kWinCertRevision);
  put16(out, at + 6, kWinCertTypePkcsSignedData);
  out.replace(at + kWinCertificateHeaderSize, pkcs7_der.size(), pkcs7_der);
  put32(out, *l.certificate_entry_offset, static_cast<uint32_t>(at));
  put32(out, *l.certificate_entry_offset + 4, static_cast<uint32_t>(padded));
  return out;
}

std::string authenticode_sha256(std::string_view image, const PeLayout& layout) {
  Sha256 hash;
  // The headers, leaving out CheckSum and the certificate-table entry (both
  // change when a signature is attached).
  hash.update(image.substr(0, layout.checksum_offset));
  uint64_t from = layout.checksum_offset + kChecksumSize;
  if (layout.certificate_entry_offset) {
    hash.update(image.substr(from, *layout.certificate_entry_offset - from));
    from = *layout.certificate_entry_offset + kDataDirectorySize;
  }
  hash.update(image.substr(from, layout.size_of_headers - from));

  std::vector<const Section*> sections;
  for (const Section& s : layout.sections)
    if (s.raw_size > 0) sections.push_back(&s);
  std::stable_sort(sections.begin(), sections.end(), [](const Section* a, const Section* b) {
    return a->raw_offset < b->raw_offset;
  });
  uint64_t hashed = layout.size_of_headers;
  for (const Section* s : sections) {
    hash.update(image.substr(s->raw_offset, s->raw_size));
    hashed += s->raw_size;
  }

  // Then the rest of the file but the certificate table, counted from the
  // number of bytes hashed so far, as the specification (and firmware) say.
  const uint64_t end =
      image.size() - std::min<uint64_t>(layout.certificate_table.size, image.size());
  if (end > hashed) hash.update(image.substr(hashed, end - hashed));
  return hash.hex_digest();
}

}  // namespace ef::pe
