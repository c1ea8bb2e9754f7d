#include "builder/sbom/debian.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

namespace ef::sbom {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// One deb822 paragraph: field name (lower case) -> first line of its value.
using Paragraph = std::map<std::string, std::string>;

std::vector<Paragraph> paragraphs(std::string_view text) {
  std::vector<Paragraph> out;
  Paragraph current;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (trim(line).empty()) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t' || line[0] == '#') continue;  // continuation, comment
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    current.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string field(const Paragraph& p, const char* name) {
  auto it = p.find(name);
  return it == p.end() ? "" : it->second;
}

// Debian's short names (DEP-5 "License Specification") to SPDX identifiers.
const std::map<std::string, std::string>& known_licenses() {
  static const std::map<std::string, std::string> m = {
      {"agpl-3", "AGPL-3.0-only"},
      {"agpl-3+", "AGPL-3.0-or-later"},
      {"apache-1.0", "Apache-1.0"},
      {"apache-1.1", "Apache-1.1"},
      {"apache-2.0", "Apache-2.0"},
      {"apache-2", "Apache-2.0"},
      {"artistic", "Artistic-1.0"},
      {"artistic-1.0", "Artistic-1.0"},
      {"artistic-2.0", "Artistic-2.0"},
      {"bsd-2-clause", "BSD-2-Clause"},
      {"bsd-3-clause", "BSD-3-Clause"},
      {"bsd-4-clause", "BSD-4-Clause"},
      {"bsl-1.0", "BSL-1.0"},
      {"cc-by-3.0", "CC-BY-3.0"},
      {"cc-by-4.0", "CC-BY-4.0"},
      {"cc-by-sa-3.0", "CC-BY-SA-3.0"},
      {"cc-by-sa-4.0", "CC-BY-SA-4.0"},
      {"cc0", "CC0-1.0"},
      {"cc0-1.0", "CC0-1.0"},
      {"curl", "curl"},
      {"expat", "MIT"},
      {"mit", "MIT"},
      {"gfdl-1.2", "GFDL-1.2-only"},
      {"gfdl-1.2+", "GFDL-1.2-or-later"},
      {"gfdl-1.3", "GFDL-1.3-only"},
      {"gfdl-1.3+", "GFDL-1.3-or-later"},
      {"gpl-1", "GPL-1.0-only"},
      {"gpl-1+", "GPL-1.0-or-later"},
      {"gpl-2", "GPL-2.0-only"},
      {"gpl-2+", "GPL-2.0-or-later"},
      {"gpl-2.0", "GPL-2.0-only"},
      {"gpl-2.0+", "GPL-2.0-or-later"},
      {"gpl-3", "GPL-3.0-only"},
      {"gpl-3+", "GPL-3.0-or-later"},
      {"gpl-3.0", "GPL-3.0-only"},
      {"gpl-3.0+", "GPL-3.0-or-later"},
      {"isc", "ISC"},
      {"lgpl-2", "LGPL-2.0-only"},
      {"lgpl-2+", "LGPL-2.0-or-later"},
      {"lgpl-2.0", "LGPL-2.0-only"},
      {"lgpl-2.0+", "LGPL-2.0-or-later"},
      {"lgpl-2.1", "LGPL-2.1-only"},
      {"lgpl-2.1+", "LGPL-2.1-or-later"},
      {"lgpl-3", "LGPL-3.0-only"},
      {"lgpl-3+", "LGPL-3.0-or-later"},
      {"lgpl-3.0", "LGPL-3.0-only"},
      {"lgpl-3.0+", "LGPL-3.0-or-later"},
      {"lppl-1.3c", "LPPL-1.3c"},
      {"mpl-1.1", "MPL-1.1"},
      {"mpl-2.0", "MPL-2.0"},
      {"openssl", "OpenSSL"},
      {"psf-2", "PSF-2.0"},
      {"python-2.0", "Python-2.0"},
      {"sleepycat", "Sleepycat"},
      {"unicode-dfs-2016", "Unicode-DFS-2016"},
      {"w3c", "W3C"},
      {"x11", "X11"},
      {"zlib", "Zlib"},
      {"zpl-2.1", "ZPL-2.1"},
  };
  return m;
}

// One licence name as an SPDX identifier or a LicenseRef.
std::string one_license(const std::string& name, std::map<std::string, std::string>& refs) {
  auto& known = known_licenses();
  if (auto it = known.find(lower(name)); it != known.end()) return it->second;
  std::string id = "LicenseRef-";
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.')
      id += c;
    else if (c == '+')
      id += "plus";
    else if (id.back() != '-')
      id += '-';
  }
  while (id.back() == '-') id.pop_back();
  if (id == "LicenseRef") id = "LicenseRef-unnamed";
  refs.emplace(id, name);
  return id;
}

// Splits `s` at " <word> " (case-insensitive), outside nothing fancier:
// Debian's expressions have no parentheses.
std::vector<std::string> split_word(const std::string& s, const std::string& word) {
  std::vector<std::string> out;
  std::string l = lower(s), sep = " " + word + " ";
  size_t start = 0;
  while (true) {
    size_t at = l.find(sep, start);
    if (at == std::string::npos) {
      out.push_back(trim(s.substr(start)));
      return out;
    }
    out.push_back(trim(s.substr(start, at - start)));
    start = at + sep.size();
  }
}

}  // namespace

std::vector<DebPackage> parse_dpkg_status(std::string_view status) {
  std::vector<DebPackage> out;
  for (const auto& p : paragraphs(status)) {
    std::string state = field(p, "status");
    // Packages whose files are on disk: every state but not-installed and
    // config-files (only conffiles left), as "want flag status" says it.
    std::string current = state.substr(state.find_last_of(" ") + 1);
    if (field(p, "package").empty() || state.empty() || current == "not-installed" ||
        current == "config-files")
      continue;
    DebPackage d;
    d.name = field(p, "package");
    d.version = field(p, "version");
    d.architecture = field(p, "architecture");
    d.maintainer = field(p, "maintainer");
    std::string source = field(p, "source");  // "name" or "name (version)"
    d.source = source.empty() ? d.name : trim(source.substr(0, source.find(' ')));
    auto open = source.find('('), close = source.find(')');
    d.source_version = open != std::string::npos && close != std::string::npos && close > open
                           ? trim(source.substr(open + 1, close - open - 1))
                           : d.version;
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const DebPackage& a, const DebPackage& b) {
    return a.name != b.name ? a.name < b.name : a.architecture < b.architecture;
  });
  return out;
}

std::string spdx_license_expression(std::string_view debian,
                                    std::map<std::string, std::string>& refs) {
  // "A or B, and C" (DEP-5: comma lowers precedence) is rare; treat ',' as a space.
  std::string text = trim(debian);
  std::replace(text.begin(), text.end(), ',', ' ');
  auto alternatives = split_word(text, "or");
  std::vector<std::string> ors;
  for (const auto& alt : alternatives) {
    std::vector<std::string> ands;
    for (const auto& name : split_word(alt, "and"))
      if (!name.empty()) ands.push_back(one_license(name, refs));
    if (ands.empty()) continue;
    std::string joined;
    for (const auto& a : ands) joined += (joined.empty() ? "" : " AND ") + a;
    ors.push_back(ands.size() > 1 && alternatives.size() > 1 ? "(" + joined + ")" : joined);
  }
  std::string out;
  for (const auto& o : ors) out += (out.empty() ? "" : " OR ") + o;
  return out;
}

std::optional<DebLicense> dep5_license(std::string_view copyright) {
  auto paras = paragraphs(copyright);
  if (paras.empty()) return std::nullopt;
  std::string format = field(paras[0], "format");
  if (format.find("copyright-format/1.0") == std::string::npos &&
      format.find("dep5") == std::string::npos && format.find("DEP-5") == std::string::npos)
    return std::nullopt;
  DebLicense license;
  // Terms joined by AND at the top: "A AND B" adds A and B, an expression
  // with OR is one term in parentheses; each term once, sorted.
  std::set<std::string> terms;
  for (const auto& p : paras) {
    if (p.find("files") == p.end()) continue;
    std::string name = field(p, "license");
    if (name.empty()) continue;
    std::string e = spdx_license_expression(name, license.refs);
    if (e.empty()) continue;
    if (e.find(" OR ") != std::string::npos) {
      terms.insert("(" + e + ")");
      continue;
    }
    size_t start = 0;
    for (size_t at; (at = e.find(" AND ", start)) != std::string::npos; start = at + 5)
      terms.insert(e.substr(start, at - start));
    terms.insert(e.substr(start));
  }
  if (terms.empty()) return std::nullopt;
  if (terms.size() == 1 && terms.begin()->front() == '(') {
    const std::string& only = *terms.begin();
    license.expression = only.substr(1, only.size() - 2);
    return license;
  }
  for (const auto& t : terms) license.expression += (license.expression.empty() ? "" : " AND ") + t;
  return license;
}

}  // namespace ef::sbom
