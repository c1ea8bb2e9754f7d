// The release a build makes, as one typed value. build_image produces it
// once — the profile's facts before the tree is composed, the image's digest,
// size and boot files while the image is written — and hands it to the
// manifest, the bundle and the disk outputs; nothing is read back from files
// the same run wrote. `edgeforge bundle` (a later run) makes one from a
// build manifest and its image instead.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/profile/profile.hpp"
#include "builder/tree/tree.hpp"
#include "image/boot_files.hpp"
#include "signing/bundle_format.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"
#include "util/semver.hpp"
#include "util/sha256.hpp"

namespace ef::build {

struct Release {
  std::string name;        // metadata.name: the product
  SemVer version;          // metadata.version
  std::string compatible;  // spec.bundle.compatible, else the name
  SemVer min_version;      // spec.bundle.minVersion: the floor devices adopt
  std::optional<int64_t> epoch;
  std::string image_sha256;
  uint64_t image_size = 0;
  /// The kernel and initrd that boot (image::choose_boot_files), with their
  /// sizes and sha256; empty for an image without a kernel.
  std::vector<signing::BootFile> boot;
  /// sha256 of the SBOM written beside the image (the installer records it).
  std::string sbom_sha256;
};

/// The profile's part of the release (name, version, compatible, floor).
/// Errors: a version the profile parser let through that SemVer refuses.
Result<Release> release_of(const profile::Profile& profile, std::optional<int64_t> epoch);

/// The signing keys (--sign-key) loaded once, for the agent layer's keyring
/// and for the bundle.
using SigningKeys = std::vector<std::shared_ptr<const signing::SigningKey>>;
Result<SigningKeys> load_signing_keys(const std::vector<std::string>& refs,
                                      const signing::Passphrase& passphrase,
                                      std::string_view option);

/// Hashes the boot files image::choose_boot_files picks in `tree` as the
/// image writer streams them (squashfs::WriterOptions::data_observer), so
/// the release's boot files cost no second read.
class BootFileHasher {
 public:
  explicit BootFileHasher(const tree::Tree& tree);
  void observe(const tree::Inode& inode, std::string_view data);
  /// Kernel first, then the initrd (when the image has one).
  std::vector<signing::BootFile> boot_files() const;

 private:
  struct Watched {
    std::string role, path;
    const tree::Inode* inode = nullptr;
    std::shared_ptr<Sha256> hash;
    std::shared_ptr<uint64_t> size;
  };
  std::vector<Watched> watched_;
};

}  // namespace ef::build
