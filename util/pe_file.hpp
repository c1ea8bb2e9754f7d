// PE32+ images (the format of x86-64 and AArch64 EFI executables) held in
// memory: their layout, appending sections (how a unified kernel image is
// made from systemd's stub), and the Authenticode image hash a Secure Boot
// signature covers ("Windows Authenticode Portable Executable Signature
// Format"). The parser takes untrusted bytes: every malformed input is an
// error naming the field and its offset, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ef::pe {

inline constexpr uint16_t kMachineAmd64 = 0x8664;
inline constexpr uint16_t kMachineArm64 = 0xaa64;

/// One entry of the section table.
struct Section {
  std::string name;              // up to 8 characters, trailing NULs removed
  uint32_t virtual_address = 0;  // relative to the image base
  uint32_t virtual_size = 0;
  uint32_t raw_offset = 0;  // PointerToRawData: file offset of the section's bytes
  uint32_t raw_size = 0;    // SizeOfRawData
};

/// A data directory entry. For the certificate table, `address` is a file
/// offset (not an RVA).
struct DataDirectory {
  uint32_t address = 0;
  uint32_t size = 0;
};

/// What parse() found. All offsets are file offsets.
struct PeLayout {
  uint16_t machine = 0;  // kMachineAmd64, kMachineArm64, ...
  uint32_t section_alignment = 0;
  uint32_t file_alignment = 0;
  uint32_t size_of_headers = 0;
  uint32_t size_of_image = 0;
  uint32_t number_of_rva_and_sizes = 0;
  size_t coff_header_offset = 0;      // just after "PE\0\0"
  size_t optional_header_offset = 0;  // the PE32+ optional header
  size_t section_table_offset = 0;
  size_t checksum_offset = 0;  // the 4-byte CheckSum field
  // The certificate-table entry (data directory 4); none when the image has
  // fewer than 5 data directories.
  std::optional<size_t> certificate_entry_offset;
  DataDirectory certificate_table;  // {0, 0} when the image is unsigned
  std::vector<Section> sections;    // in section-table order
};

/// Parses and checks the headers of the PE32+ image `image`: MZ and PE
/// signatures, optional header magic 0x20b, the section table and every
/// section's bytes within the file and not overlapping, the certificate
/// table (if any) after the sections.
Result<PeLayout> parse(std::string_view image);

/// A section for add_sections().
struct NewSection {
  std::string name;  // 1 to 8 characters, not already in the image
  std::string data;  // not empty
};

/// Returns `image` with `sections` appended in order: each at the next
/// SectionAlignment boundary after the previous section's end in memory,
/// its bytes at the next FileAlignment boundary after the existing
/// sections' bytes, zero-padded to FileAlignment, as read-only initialized
/// data. Anything that followed the last section in the file (a COFF symbol
/// table) is moved behind the new sections. A signature is dropped (the
/// result must be signed again) and CheckSum is zeroed. Fails when the new
/// section headers do not fit in front of the first section's bytes.
Result<std::string> add_sections(std::string_view image, const std::vector<NewSection>& sections);

/// Returns `image` ready to be signed: any signature removed, CheckSum
/// zeroed, zero-padded to a multiple of 8 bytes (where firmware wants the
/// certificate table). Fails for images without a certificate-table entry.
Result<std::string> prepare_for_signing(std::string_view image);

/// Appends `pkcs7_der` (a DER PKCS#7 SignedData) to `prepared`, the result
/// of prepare_for_signing(), as a WIN_CERTIFICATE (revision 2.0, type
/// PKCS_SIGNED_DATA) padded to 8 bytes, and points the certificate-table
/// entry at it.
Result<std::string> attach_signature(std::string_view prepared, std::string_view pkcs7_der);

/// The SHA-256 Authenticode hash of `image` as 64 lower-case hex digits:
/// the headers without CheckSum and the certificate-table entry, the
/// sections' bytes in file order, then whatever follows them up to the
/// certificate table. `layout` must be parse(image).
std::string authenticode_sha256(std::string_view image, const PeLayout& layout);

}  // namespace ef::pe
