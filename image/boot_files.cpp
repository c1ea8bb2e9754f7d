#include "image/boot_files.hpp"

#include <filesystem>
#include <map>
#include <set>

namespace ef::image {
namespace {

namespace fs = std::filesystem;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// dpkg's weight of one character of a non-digit run ('\0' is the end).
int order(char c) {
  if (is_digit(c)) return 0;
  if (is_alpha(c)) return c;
  if (c == '~') return -1;
  if (c != '\0') return static_cast<unsigned char>(c) + 256;
  return 0;
}

// dpkg's verrevcmp: alternating non-digit runs (by order()) and digit runs
// (as numbers, leading zeros ignored).
int compare_part(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      int ac = order(at(a, i)), bc = order(at(b, j));
      if (ac != bc) return ac - bc;
      ++i, ++j;
    }
    while (at(a, i) == '0') ++i;
    while (at(b, j) == '0') ++j;
    int first_diff = 0;
    while (is_digit(at(a, i)) && is_digit(at(b, j))) {
      if (first_diff == 0) first_diff = at(a, i) - at(b, j);
      ++i, ++j;
    }
    if (is_digit(at(a, i))) return 1;
    if (is_digit(at(b, j))) return -1;
    if (first_diff != 0) return first_diff;
  }
  return 0;
}

struct DebianVersion {
  unsigned long long epoch = 0;
  std::string_view upstream, revision;
};

DebianVersion split(std::string_view v) {
  DebianVersion out;
  size_t colon = v.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string_view e = v.substr(0, colon);
    bool numeric = true;
    unsigned long long n = 0;
    for (char c : e) {
      if (!is_digit(c)) numeric = false;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (numeric) {
      out.epoch = n;
      v.remove_prefix(colon + 1);
    }
  }
  size_t hyphen = v.rfind('-');
  out.upstream = v.substr(0, hyphen);
  if (hyphen != std::string_view::npos) out.revision = v.substr(hyphen + 1);
  return out;
}

using EntryMap = std::map<std::string, const ImageEntry*>;

// Follows symlinks among `entries` (relative or absolute targets); the path
// reached, or `path` itself when it is no link.
std::string follow(const EntryMap& entries, std::string path) {
  for (int hops = 0; hops < 8; ++hops) {
    auto it = entries.find(path);
    if (it == entries.end() || it->second->type != NodeType::symlink) return path;
    const std::string& target = it->second->target;
    fs::path next =
        target.starts_with("/") ? fs::path(target) : fs::path(path).parent_path() / target;
    path = next.lexically_normal().string();
  }
  return path;
}

bool is_regular(const EntryMap& entries, const std::string& path) {
  auto it = entries.find(path);
  return it != entries.end() && it->second->type == NodeType::regular;
}

// The highest /boot/vmlinuz-VERSION in Debian order (ties by bytes, so the
// choice never depends on listing order).
std::optional<std::string> highest_boot_kernel(const EntryMap& entries) {
  constexpr std::string_view kPrefix = "/boot/vmlinuz-";
  std::optional<std::string> best;
  for (const auto& [path, e] : entries) {
    if (!path.starts_with(kPrefix) || e->type != NodeType::regular) continue;
    if (path.find('/', kPrefix.size()) != std::string::npos) continue;
    if (!best) {
      best = path;
      continue;
    }
    int c = compare_debian_versions(std::string_view(path).substr(kPrefix.size()),
                                    std::string_view(*best).substr(kPrefix.size()));
    if (c > 0 || (c == 0 && path > *best)) best = path;
  }
  return best;
}

}  // namespace

int compare_debian_versions(std::string_view a, std::string_view b) {
  DebianVersion x = split(a), y = split(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  if (int c = compare_part(x.upstream, y.upstream); c != 0) return c;
  return compare_part(x.revision, y.revision);
}

std::optional<BootFiles> choose_boot_files(const std::vector<ImageEntry>& entries) {
  EntryMap by_path;
  for (const auto& e : entries) by_path.emplace(e.path, &e);
  BootFiles files;
  std::string linked = follow(by_path, "/vmlinuz");
  if (is_regular(by_path, linked)) {
    files.kernel = linked;
  } else {
    auto highest = highest_boot_kernel(by_path);
    if (!highest) return std::nullopt;
    files.kernel = *highest;
  }
  fs::path kernel(files.kernel);
  std::string name = kernel.filename().string();
  if (name.starts_with("vmlinuz-")) files.version = name.substr(8);
  if (!files.version.empty()) {
    std::string initrd = (kernel.parent_path() / ("initrd.img-" + files.version)).string();
    if (is_regular(by_path, initrd)) files.initrd = initrd;
  } else if (std::string initrd = follow(by_path, "/initrd.img"); is_regular(by_path, initrd)) {
    files.initrd = initrd;
  }
  return files;
}

Result<std::optional<BootFiles>> find_boot_files(ImageReader& reader) {
  std::vector<ImageEntry> entries;
  std::set<std::string> listed;
  auto list = [&](const std::string& dir) -> Result<void> {
    if (!listed.insert(dir).second || !reader.exists(dir)) return Ok{};
    EF_ASSIGN(auto children, reader.list_dir(dir));
    for (auto& e : children) entries.push_back(std::move(e));
    return Ok{};
  };
  EF_TRY(list("/"));
  EF_TRY(list("/boot"));
  for (const char* link : {"/vmlinuz", "/initrd.img"}) {
    if (!reader.exists(link)) continue;
    auto target = reader.resolve(link);
    if (!target) continue;  // dangling: the rule falls back to /boot
    EF_TRY(list(fs::path(*target).parent_path().string()));
  }
  return choose_boot_files(entries);
}

}  // namespace ef::image
