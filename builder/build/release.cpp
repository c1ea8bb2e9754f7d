#include "builder/build/release.hpp"

#include "builder/tree/boot_files.hpp"

namespace ef::build {

Result<Release> release_of(const profile::Profile& p, std::optional<int64_t> epoch) {
  Release r;
  r.name = p.name;
  r.compatible = p.compatible();
  auto version = SemVer::parse(p.version);
  if (!version)
    return Error(Errc::invalid_profile,
                 p.file.string() + ": metadata.version: '" + p.version + "' is not a semver");
  r.version = *version;
  auto floor = SemVer::parse(p.bundle.min_version);
  if (!floor)
    return Error(Errc::invalid_profile, p.file.string() + ": spec.bundle.minVersion: '" +
                                            p.bundle.min_version + "' is not a semver");
  r.min_version = *floor;
  r.epoch = epoch;
  return r;
}

Result<SigningKeys> load_signing_keys(const std::vector<std::string>& refs,
                                      const signing::Passphrase& passphrase,
                                      std::string_view option) {
  SigningKeys keys;
  for (const auto& ref : refs) {
    auto key = signing::SigningKey::load(ref, passphrase);
    if (!key) return std::move(key).error().with_context(std::string(option) + " " + ref);
    keys.push_back(std::make_shared<const signing::SigningKey>(std::move(*key)));
  }
  return keys;
}

BootFileHasher::BootFileHasher(const tree::Tree& tree) {
  auto chosen = tree::choose_boot_files(tree);
  if (!chosen) return;
  for (auto [role, path] : {std::pair{"kernel", chosen->kernel}, {"initrd", chosen->initrd}}) {
    if (path.empty()) continue;
    const tree::Node* node = tree.find(std::string_view(path).substr(1));
    if (node == nullptr) continue;
    watched_.push_back(
        {role, path, node->inode.get(), std::make_shared<Sha256>(), std::make_shared<uint64_t>(0)});
  }
}

void BootFileHasher::observe(const tree::Inode& inode, std::string_view data) {
  for (auto& w : watched_) {
    if (w.inode != &inode) continue;
    w.hash->update(data);
    *w.size += data.size();
  }
}

std::vector<signing::BootFile> BootFileHasher::boot_files() const {
  std::vector<signing::BootFile> out;
  for (const auto& w : watched_) out.push_back({w.role, w.path, *w.size, w.hash->hex_digest()});
  return out;
}

}  // namespace ef::build
