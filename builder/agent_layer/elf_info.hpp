// The few facts edgeforge needs from an ELF file (the agent binary and the
// libraries copied beside it): its DT_NEEDED libraries, DT_RPATH/DT_RUNPATH
// and the symbol versions it needs (.gnu.version_r), to check which glibc
// it requires. ELF64 little-endian only (x86-64, aarch64).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ef::agent_layer {

/// A version like GLIBC_2.34 as numbers: {2, 34}, {2, 2, 5}.
struct GlibcVersion {
  std::vector<int> parts;
  /// "2.34".
  std::string str() const;
  auto operator<=>(const GlibcVersion&) const = default;
};

/// Parses "GLIBC_2.34" (or "2.34"); GLIBC_PRIVATE and other names are nullopt.
std::optional<GlibcVersion> parse_glibc_version(std::string_view name);

struct ElfInfo {
  std::vector<std::string> needed;   // DT_NEEDED, in file order
  std::vector<std::string> rpath;    // DT_RPATH entries (split at ':')
  std::vector<std::string> runpath;  // DT_RUNPATH entries
  /// Every version the file needs from other objects ("GLIBC_2.34",
  /// "GLIBCXX_3.4.29", "OPENSSL_3.0.0"...), in file order.
  std::vector<std::string> version_needs;
  /// The highest GLIBC_x.y among version_needs; nullopt when none.
  std::optional<GlibcVersion> max_glibc() const;
};

/// Reads `bytes` (a whole ELF file; `name` for messages). Errors: not ELF,
/// not ELF64 little-endian, truncated or inconsistent tables.
Result<ElfInfo> read_elf_info(std::string_view bytes, const std::string& name);

}  // namespace ef::agent_layer
