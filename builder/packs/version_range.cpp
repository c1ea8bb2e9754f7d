#include "builder/packs/version_range.hpp"

#include <sstream>
#include <string_view>

namespace ef::packs {

Result<void> VersionRange::add_token(const std::string& tok, std::vector<Comparator>& out) {
  using enum Comparator::Op;
  struct Prefix {
    std::string_view text;
    Comparator::Op op;
    char shorthand;  // '^' or '~': expands to a lower and an upper bound
  };
  static const Prefix prefixes[] = {{">=", ge, 0}, {"<=", le, 0},  {">", gt, 0},  {"<", lt, 0},
                                    {"=", eq, 0},  {"^", ge, '^'}, {"~", ge, '~'}};
  Prefix chosen{"", eq, 0};
  std::string_view rest = tok;
  for (const auto& p : prefixes) {
    if (rest.starts_with(p.text)) {
      chosen = p;
      rest.remove_prefix(p.text.size());
      break;
    }
  }
  if (rest.starts_with('v')) rest.remove_prefix(1);  // "v1.2.3", as people write it
  auto v = SemVer::parse(rest);
  if (!v) return Error(Errc::invalid_argument, "'" + tok + "': " + v.error().message());
  out.push_back({chosen.op, *v});
  if (chosen.shorthand == 0) return Ok{};
  // ^1.2.3: >=1.2.3 <2.0.0 (^0.2.3: <0.3.0); ~1.2.3: >=1.2.3 <1.3.0.
  SemVer upper;
  upper.major = v->major;
  if (chosen.shorthand == '~' || v->major == 0)
    upper.minor = v->minor + 1;
  else
    upper.major = v->major + 1;
  out.push_back({lt, upper});
  return Ok{};
}

Result<VersionRange> VersionRange::parse(const std::string& text) {
  VersionRange r;
  r.text_ = text;
  std::string rest = text;
  while (true) {
    auto bar = rest.find("||");
    std::istringstream in(rest.substr(0, bar));
    std::vector<Comparator> comps;
    for (std::string tok; in >> tok;) {
      if (tok == "*" || tok == "x") continue;
      EF_TRY(add_token(tok, comps));
    }
    r.sets_.push_back(std::move(comps));
    if (bar == std::string::npos) break;
    rest = rest.substr(bar + 2);
  }
  return r;
}

bool VersionRange::contains(const SemVer& v) const {
  using enum Comparator::Op;
  for (const auto& set : sets_) {
    bool all = true;
    for (const auto& c : set) {
      auto cmp = v <=> c.version;
      bool ok = (c.op == eq && cmp == 0) || (c.op == lt && cmp < 0) || (c.op == le && cmp <= 0) ||
                (c.op == gt && cmp > 0) || (c.op == ge && cmp >= 0);
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
