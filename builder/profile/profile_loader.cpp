#include "builder/profile/profile_loader.hpp"

#include <algorithm>

#include <cerrno>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

#include "builder/profile/profile_parser.hpp"
#include "builder/profile/values.hpp"
#include "util/semver.hpp"
#include "util/sha256.hpp"

namespace fs = std::filesystem;

namespace ef::profile {
namespace {

using detail::PartialProfile;

struct LoadedFile {
  PartialProfile profile;
  std::string bytes;  // exactly what was parsed, for the digest
};

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return errno_error(err == ENOENT ? Errc::not_found : Errc::io,
                       path.string() + ": cannot read profile", err);
  }
  std::string bytes;
  char buf[16384];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.append(buf, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Error(Errc::io, path.string() + ": cannot read profile");
  return bytes;
}

// Walks `extends` depth-first and collects every file once, in merge order:
// a file always comes after everything it extends (post-order). A file
// reached again through another path (a diamond) is not loaded again, so its
// layers are not applied twice.
class ExtendsWalker {
 public:
  Result<void> visit(const fs::path& file) {
    std::error_code ec;
    // Identity is the canonical path, so symlinks cannot hide a cycle.
    fs::path id = fs::weakly_canonical(file, ec);
    if (ec) id = file;
    stack_.push_back({id, file});
    EF_ASSIGN(auto bytes, read_file(file));
    EF_ASSIGN(auto profile, detail::parse_profile(file, bytes));
    for (const auto& ext : profile.extends) {
      fs::path ext_id = fs::weakly_canonical(ext.path, ec);
      if (ec) ext_id = ext.path;
      if (auto cycle = find_cycle(ext_id, ext.path); !cycle.empty()) {
        return Error(Errc::invalid_profile, ext.loc.str() + ": extends cycle: " + cycle);
      }
      if (done_.count(ext_id)) continue;
      EF_TRY(visit(ext.path));
    }
    stack_.pop_back();
    done_.insert(id);
    files_.push_back(LoadedFile{std::move(profile), std::move(bytes)});
    return Ok{};
  }

  std::vector<LoadedFile>& files() { return files_; }

 private:
  struct Frame {
    fs::path id;
    fs::path file;
  };

  // "a.yaml -> b.yaml -> a.yaml" when `id` is being loaded already, paths
  // relative to the directory of the file where the cycle starts.
  std::string find_cycle(const fs::path& id, const fs::path& file) const {
    for (size_t i = 0; i < stack_.size(); ++i) {
      if (stack_[i].id != id) continue;
      fs::path dir = stack_[i].file.parent_path();
      std::string chain;
      for (size_t j = i; j < stack_.size(); ++j) {
        chain += stack_[j].file.lexically_relative(dir).string() + " -> ";
      }
      return chain + file.lexically_relative(dir).string();
    }
    return "";
  }

  std::vector<Frame> stack_;
  std::set<fs::path> done_;
  std::vector<LoadedFile> files_;
};

// spec.agent: scalars later-wins; trusted and revoked keys add up (a child
// cannot silently drop a key a parent revoked); health lists are replaced.
void merge_agent(detail::PartialAgent& acc, detail::PartialAgent&& next) {
  if (next.enabled) acc.enabled = next.enabled;
  if (next.tries) acc.tries = next.tries;
  for (auto& k : next.keyring) acc.keyring.push_back(std::move(k));
  for (auto& r : next.revoked) acc.revoked.push_back(std::move(r));
  if (next.health_timeout_seconds) acc.health_timeout_seconds = next.health_timeout_seconds;
  if (next.health_units) acc.health_units = std::move(next.health_units);
  if (next.health_commands) acc.health_commands = std::move(next.health_commands);
  if (next.update_interval) acc.update_interval = next.update_interval;
  if (next.update_jitter) acc.update_jitter = next.update_jitter;
  for (auto& k : next.channel_keyring) acc.channel_keyring.push_back(std::move(k));
  for (auto& k : next.rollout_keyring) acc.rollout_keyring.push_back(std::move(k));
}

AgentSettings finish_agent(detail::PartialAgent&& a) {
  AgentSettings s;
  if (a.enabled) s.enabled = *a.enabled;
  if (a.tries) s.tries = *a.tries;
  s.keyring = std::move(a.keyring);
  s.revoked = std::move(a.revoked);
  if (a.health_timeout_seconds) s.health_timeout_seconds = *a.health_timeout_seconds;
  s.health_units = std::move(a.health_units);
  if (a.health_commands) s.health_commands = std::move(*a.health_commands);
  if (a.update_interval) s.update_interval = *a.update_interval;
  if (a.update_jitter) s.update_jitter = *a.update_jitter;
  s.channel_keyring = std::move(a.channel_keyring);
  s.rollout_keyring = std::move(a.rollout_keyring);
  return s;
}

// Later wins for scalars and for `base` as a whole; layers append.
void merge(PartialProfile& acc, PartialProfile&& next) {
  if (next.name) acc.name = std::move(next.name);
  if (next.version) acc.version = std::move(next.version);
  if (next.epoch) acc.epoch = next.epoch;
  if (next.base) acc.base = std::move(next.base);
  for (auto& layer : next.layers) acc.layers.push_back(std::move(layer));
  if (next.compression) acc.compression = std::move(next.compression);
  if (next.level) acc.level = next.level;
  if (next.block_size) acc.block_size = next.block_size;
  if (next.bundle_compatible) acc.bundle_compatible = std::move(next.bundle_compatible);
  if (next.bundle_min_version) acc.bundle_min_version = std::move(next.bundle_min_version);
  // kubernetes: later wins per field; config is merged (RFC 7386), so a
  // cluster profile can add to the config a system profile started.
  if (next.kubernetes) {
    if (!acc.kubernetes) {
      acc.kubernetes = std::move(next.kubernetes);
    } else {
      auto& a = *acc.kubernetes;
      auto& n = *next.kubernetes;
      if (!n.distribution.empty()) a.distribution = n.distribution;
      if (!n.version.empty()) a.version = n.version;
      if (!n.role.empty()) a.role = n.role;
      if (!n.arch.empty()) a.arch = n.arch;
      a.config.merge_patch(n.config);
      for (auto& [k, v] : n.artifacts) a.artifacts[k] = v;
      a.loc = n.loc;
    }
  }
  for (auto& pack : next.packs) acc.packs.push_back(std::move(pack));
  if (next.site) acc.site = std::move(next.site);
  if (next.artifact_mirror) acc.artifact_mirror = std::move(next.artifact_mirror);
  if (next.formats) acc.formats = std::move(next.formats);
  if (next.esp_mib) acc.esp_mib = next.esp_mib;
  if (next.slot_mib) acc.slot_mib = next.slot_mib;
  if (next.persistent_mib) acc.persistent_mib = next.persistent_mib;
  for (auto& p : next.persistent_paths) acc.persistent_paths.push_back(std::move(p));
  merge_agent(acc.agent, std::move(next.agent));
  if (next.installer_site) acc.installer_site = std::move(next.installer_site);
  if (next.secure_boot) acc.secure_boot = std::move(next.secure_boot);
}

Error missing(const SourceLoc& loc, const std::string& what) {
  return Error(Errc::invalid_profile, loc.str() + ": " + what +
                                          " is required (set it here or in a profile this one "
                                          "extends)");
}

// Completeness is checked on the merged result only: a profile used through
// `extends` may leave out name, version and base.
Result<Profile> finish(const PartialProfile& top, PartialProfile&& merged) {
  if (!merged.name) return missing(top.metadata_loc, "metadata.name");
  if (!merged.version) return missing(top.metadata_loc, "metadata.version");
  if (!merged.base) return missing(top.spec_loc, "spec.base");
  Profile profile;
  profile.file = top.file;
  profile.name = std::move(*merged.name);
  profile.version = std::move(*merged.version);
  profile.epoch = merged.epoch;
  profile.base = std::move(*merged.base);
  profile.layers = std::move(merged.layers);
  if (merged.kubernetes) {
    const auto& k = *merged.kubernetes;
    if (k.distribution.empty()) return missing(k.loc, "spec.kubernetes.distribution");
    if (k.version.empty()) return missing(k.loc, "spec.kubernetes.version");
    if (k.arch.empty()) merged.kubernetes->arch = "amd64";
  }
  profile.kubernetes = std::move(merged.kubernetes);
  profile.packs = std::move(merged.packs);
  if (merged.site) profile.site = *merged.site;
  if (merged.artifact_mirror) profile.artifact_mirror = *merged.artifact_mirror;
  if (merged.compression) profile.output.compression = merged.compression->value;
  if (merged.block_size) profile.output.block_size = *merged.block_size;
  if (merged.formats) {
    profile.output.formats = merged.formats->value;
    profile.output.formats_loc = merged.formats->loc;
  }
  if (merged.esp_mib) profile.output.esp_mib = *merged.esp_mib;
  if (merged.slot_mib) profile.output.slot_mib = *merged.slot_mib;
  if (merged.persistent_mib) profile.output.persistent_mib = *merged.persistent_mib;
  profile.output.persistent_paths = merged.persistent_paths;
  profile.agent = finish_agent(std::move(merged.agent));
  if (merged.installer_site) profile.output.installer_site = *merged.installer_site;
  if (merged.secure_boot) profile.secure_boot = *merged.secure_boot;
  if (profile.secure_boot.enabled() && !profile.agent.enabled)
    return Error(Errc::invalid_profile,
                 profile.secure_boot.loc.str() +
                     ": spec.secureBoot needs the agent (spec.agent.enabled: true): its initramfs "
                     "addition maps the slot through dm-verity at boot");
  if (profile.secure_boot.enabled() && profile.base.kind == Base::Kind::mmdebstrap) {
    // The persistent partition is sealed at first boot by the image's own
    // cryptsetup and systemd-cryptenroll (docs/verified-boot.md).
    auto& packages = profile.base.mmdebstrap.packages;
    for (const char* p : kSecureBootPackages)
      if (std::find(packages.begin(), packages.end(), p) == packages.end()) packages.push_back(p);
  }
  if (merged.level) {
    auto why = detail::check_level(profile.output.compression, merged.level->value);
    if (!why.empty()) {
      if (merged.compression && merged.compression->loc.file != merged.level->loc.file) {
        why += " (compression set at " + merged.compression->loc.str() + ")";
      }
      return Error(Errc::invalid_profile, merged.level->loc.str() + ": spec.output.level: " + why);
    }
    profile.output.level = merged.level->value;
  }
  if (merged.bundle_compatible) profile.bundle.compatible = *merged.bundle_compatible;
  if (merged.bundle_min_version) {
    const auto& floor = *merged.bundle_min_version;
    if (*SemVer::parse(floor.value) > *SemVer::parse(profile.version)) {
      return Error(Errc::invalid_profile, floor.loc.str() + ": spec.bundle.minVersion " +
                                              floor.value + " is above metadata.version " +
                                              profile.version);
    }
    profile.bundle.min_version = floor.value;
  }
  return profile;
}

// Each source is prefixed by its length so that moving bytes from one file
// to the next changes the digest.
std::string digest_of(const std::vector<LoadedFile>& files) {
  Sha256 hash;
  for (const auto& f : files) {
    uint64_t size = f.bytes.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(size >> (8 * i));
    hash.update(prefix, sizeof prefix);
    hash.update(f.bytes);
  }
  return hash.hex_digest();
}

}  // namespace

Result<Profile> load_profile(const fs::path& file) {
  std::error_code ec;
  fs::path top = fs::absolute(file, ec).lexically_normal();
  if (ec) return Error(Errc::io, file.string() + ": " + ec.message());

  ExtendsWalker walker;
  EF_TRY(walker.visit(top));
  auto& files = walker.files();  // merge order; the top-level file is last

  PartialProfile merged;
  for (auto& f : files) merge(merged, PartialProfile(f.profile));
  EF_ASSIGN(auto profile, finish(files.back().profile, std::move(merged)));
  for (const auto& f : files) profile.sources.push_back(f.profile.file);
  profile.digest = digest_of(files);
  return profile;
}

}  // namespace ef::profile
