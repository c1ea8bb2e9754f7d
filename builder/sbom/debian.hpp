// What a Debian (or Ubuntu) root filesystem says about its packages: the
// dpkg status database and the machine-readable copyright files
// (DEP-5, https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/),
// turned into the facts an SBOM carries.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ef::sbom {

/// One installed package of /var/lib/dpkg/status.
struct DebPackage {
  std::string name;
  std::string version;
  std::string architecture;
  std::string source;          // the source package (the name when Source: is absent)
  std::string source_version;  // the source's version (the version unless Source: says)
  std::string maintainer;      // "Name <email>"
};

/// The installed packages ("install ok installed" and the other installed
/// states dpkg-query lists), sorted by name, then architecture.
std::vector<DebPackage> parse_dpkg_status(std::string_view status);

/// A package's licence as an SPDX licence expression. Debian names SPDX
/// does not know become `LicenseRef-…` identifiers; `refs` maps each to
/// the name the copyright file used.
struct DebLicense {
  std::string expression;
  std::map<std::string, std::string> refs;
};

/// The licence a DEP-5 copyright file states: every Files paragraph's
/// License line, translated to SPDX and joined with AND (each distinct
/// expression once, sorted). nullopt when the file is not machine-readable
/// (no Format: line naming the copyright format) or names no licence.
std::optional<DebLicense> dep5_license(std::string_view copyright);

/// One Debian licence short name ("GPL-2+", "Expat") or expression
/// ("GPL-2+ or Artistic") as an SPDX expression; unknown names become
/// LicenseRef-… entries of `refs`.
std::string spdx_license_expression(std::string_view debian,
                                    std::map<std::string, std::string>& refs);

}  // namespace ef::sbom
