#include "builder/packs/semver.hpp"

#include <regex>
#include <sstream>

namespace ef::packs {

std::optional<Semver> Semver::parse(const std::string& text) {
  static const std::regex re(
      "v?(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)"
      "(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::nullopt;
  Semver v;
  try {
    v.major = std::stoi(m[1].str());
    v.minor = std::stoi(m[2].str());
    v.patch = std::stoi(m[3].str());
  } catch (const std::exception&) {
    return std::nullopt;  // out of int range
  }
  if (m[4].matched) {
    std::istringstream in(m[4].str());
    for (std::string id; std::getline(in, id, '.');) v.pre.push_back(id);
  }
  return v;
}

namespace {

bool numeric(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

int compare_pre(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? 1 : -1);
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i] == b[i]) continue;
    bool na = numeric(a[i]), nb = numeric(b[i]);
    if (na && nb)
      return a[i].size() != b[i].size() ? (a[i].size() < b[i].size() ? -1 : 1)
                                        : (a[i] < b[i] ? -1 : 1);
    if (na != nb) return na ? -1 : 1;
    return a[i] < b[i] ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

}  // namespace

int Semver::compare(const Semver& o) const {
  if (major != o.major) return major < o.major ? -1 : 1;
  if (minor != o.minor) return minor < o.minor ? -1 : 1;
  if (patch != o.patch) return patch < o.patch ? -1 : 1;
  return compare_pre(pre, o.pre);
}

std::optional<VersionRange> VersionRange::parse(const std::string& text) {
  VersionRange r;
  r.text_ = text;
  std::string rest = text;
  while (true) {
    auto bar = rest.find("||");
    std::string set = rest.substr(0, bar);
    std::istringstream in(set);
    std::vector<Comparator> comps;
    for (std::string tok; in >> tok;) {
      if (tok == "*" || tok == "x") continue;
      using Op = Comparator::Op;
      Op op = Op::eq;
      size_t skip = 0;
      char caret = 0;
      if (tok.rfind(">=", 0) == 0)
        op = Op::ge, skip = 2;
      else if (tok.rfind("<=", 0) == 0)
        op = Op::le, skip = 2;
      else if (tok[0] == '>')
        op = Op::gt, skip = 1;
      else if (tok[0] == '<')
        op = Op::lt, skip = 1;
      else if (tok[0] == '=')
        skip = 1;
      else if (tok[0] == '^' || tok[0] == '~')
        caret = tok[0], skip = 1;
      auto v = Semver::parse(tok.substr(skip));
      if (!v) return std::nullopt;
      if (caret != 0) {
        // ^1.2.3: >=1.2.3 <2.0.0 (^0.2.3: <0.3.0); ~1.2.3: >=1.2.3 <1.3.0.
        Semver upper = *v;
        upper.pre.clear();
        if (caret == '~' || v->major == 0)
          upper = Semver{v->major, v->minor + 1, 0, {}};
        else
          upper = Semver{v->major + 1, 0, 0, {}};
        comps.push_back({Op::ge, *v});
        comps.push_back({Op::lt, upper});
      } else {
        comps.push_back({op, *v});
      }
    }
    r.sets_.push_back(std::move(comps));
    if (bar == std::string::npos) break;
    rest = rest.substr(bar + 2);
  }
  return r;
}

bool VersionRange::contains(const Semver& v) const {
  for (const auto& set : sets_) {
    bool all = true;
    for (const auto& c : set) {
      int cmp = v.compare(c.version);
      using Op = Comparator::Op;
      bool ok = (c.op == Op::eq && cmp == 0) || (c.op == Op::lt && cmp < 0) ||
                (c.op == Op::le && cmp <= 0) || (c.op == Op::gt && cmp > 0) ||
                (c.op == Op::ge && cmp >= 0);
      if (!ok) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

}  // namespace ef::packs
