// The profile model: what one image is made of, after `extends` are merged.
//
// Parsing and validation live in profile_loader.hpp; this header is the
// typed result every other module consumes. Paths are already absolute,
// resolved relative to the profile file that declared them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "device/watch_timer.hpp"

namespace ef::profile {

/// Where a value was declared: "file:line:column" in messages.
struct SourceLoc {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  /// "file:line:column", or just "file" when the line is unknown.
  std::string str() const;
};

/// A local file or a pinned download. Exactly one of `path` or `url` is set.
/// `sha256` is required with `url` and optional (but checked) with `path`.
struct ArtifactRef {
  std::filesystem::path path;
  std::string url;
  std::string sha256;  // lower-case hex, empty when not given
  SourceLoc loc;
  bool is_remote() const { return !url.empty(); }
  /// "path/to/file" or the URL, for messages.
  std::string describe() const;
};

/// A base root filesystem built by the installed `mmdebstrap` tool.
struct MmdebstrapRecipe {
  std::string suite;                    // e.g. bookworm
  std::string variant = "minbase";      // mmdebstrap --variant
  std::string architecture = "amd64";   // mmdebstrap --architectures
  std::vector<std::string> components;  // empty: mmdebstrap's default (main)
  std::vector<std::string> packages;    // --include
  std::string mirror;                   // empty: the host's apt sources
  SourceLoc loc;
};

/// An OCI image layout directory, OCI archive or `docker save` archive.
struct OciSource {
  ArtifactRef source;
  std::string ref;  // tag or digest; empty: the only image in the index
};

struct Base {
  enum class Kind { none, tarball, oci, mmdebstrap };
  Kind kind = Kind::none;
  ArtifactRef tarball;
  OciSource oci;
  MmdebstrapRecipe mmdebstrap;
  SourceLoc loc;
};

/// One entry of a `files:` layer: inline content or a host file.
struct FileEntry {
  std::string path;                    // absolute path inside the image
  std::optional<std::string> content;  // inline content, or
  std::filesystem::path source;        // a host file (absolute)
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  SourceLoc loc;
};

struct Layer {
  enum class Kind { tarball, directory, files, oci };
  Kind kind = Kind::tarball;
  ArtifactRef tarball;               // Kind::tarball
  OciSource oci;                     // Kind::oci
  std::filesystem::path directory;   // Kind::directory
  std::optional<uint32_t> uid, gid;  // Kind::directory: owner override (default root:root)
  std::vector<FileEntry> files;      // Kind::files
  SourceLoc loc;
  /// "layer 2 (tarball extra.tar.zst)" style description for messages.
  /// `index` is the 0-based position in Profile::layers; printed 1-based.
  std::string describe(size_t index) const;
};

struct Output {
  std::string compression = "zstd";  // zstd, xz, gzip, lz4
  std::optional<int> level;          // compressor default when unset
  uint32_t block_size = 131072;      // power of two, 4 KiB .. 1 MiB
  /// What `build` writes: squashfs (always, the others derive from it), raw
  /// and qcow2 (the A/B disk image), iso (the installer).
  std::vector<std::string> formats = {"squashfs"};
  /// Where `formats` was set, for messages about a format; file empty when
  /// no profile set it (the default).
  SourceLoc formats_loc;
  /// Disk image partition sizes in MiB (spec.output.disk).
  uint64_t esp_mib = 256;
  uint64_t slot_mib = 2048;
  uint64_t persistent_mib = 1024;
  /// Extra paths kept on the persistent partition (spec.output.persistentPaths),
  /// added to the built-in list (docs/disk-layout.md).
  std::vector<std::string> persistent_paths;
  /// spec.output.installerSite: a site.yaml the installer ISO carries (not
  /// baked into the image); rendered at install time, its `install:`
  /// section can ask for an unattended install. Empty: none.
  std::filesystem::path installer_site;
};

/// spec.secureBoot: the boot chain the disk image carries is signed for UEFI
/// Secure Boot with the operator's db key (docs/verified-boot.md): a signed
/// systemd-boot, one signed unified kernel image per slot whose command line
/// holds the slot's dm-verity root hash. Both empty: GRUB, unsigned.
struct SecureBoot {
  /// spec.secureBoot.withoutTpm: what a device without a TPM 2.0 does with
  /// its persistent partition (which is otherwise LUKS2, its key sealed to
  /// the TPM): refuse to boot, or keep it unencrypted with a warning.
  enum class WithoutTpm { refuse, unencrypted };
  std::string key;                    // PEM file (absolute) or a pkcs11: URI
  std::filesystem::path certificate;  // the db certificate (PEM), absolute
  WithoutTpm without_tpm = WithoutTpm::refuse;
  SourceLoc loc;
  bool enabled() const { return !key.empty(); }
};

/// Packages an mmdebstrap base gets when the profile has spec.secureBoot:
/// what the initramfs runs from the verified root to create and unlock the
/// TPM-sealed persistent partition (cryptsetup; systemd's TPM2 support
/// loads the tpm2-tss libraries at run time).
inline constexpr const char* kSecureBootPackages[] = {
    "cryptsetup-bin", "libtss2-esys-3.0.2-0", "libtss2-rc0", "libtss2-mu0", "libtss2-tcti-device0"};

/// spec.bundle: what signed bundles of this image say about it.
struct BundleSettings {
  std::string compatible;             // devices that may install it; empty: the profile name
  std::string min_version = "0.0.0";  // anti-rollback floor devices adopt (semver)
};

/// spec.kubernetes.artifacts.<name>: where one distribution artifact comes from.
struct ArtifactOverride {
  std::string url;     // empty: the distribution's upstream URL (mirror applies)
  std::string sha256;  // lower-case hex; empty: from the distribution definition
  SourceLoc loc;
};

/// spec.kubernetes: the distribution the image runs (see layers/kubernetes/).
struct Kubernetes {
  std::string distribution;  // k3s, kubeadm: layers/kubernetes/<distribution>.yaml
  std::string version;       // e.g. v1.30.4+k3s1
  std::string role;          // server|agent (k3s), control-plane|worker (kubeadm)
  std::string arch;          // amd64 (when not set), arm64
  nlohmann::json config = nlohmann::json::object();  // merged into the native config
  std::map<std::string, ArtifactOverride> artifacts;
  SourceLoc loc;
};

/// One entry of spec.packs.
struct PackRef {
  std::filesystem::path path;                        // pack directory or .tar.gz
  nlohmann::json values = nlohmann::json::object();  // override the pack's defaults
  SourceLoc loc;
};

/// One spec.agent.health.commands entry: a shell command that must exit 0.
struct AgentHealthCommand {
  std::string run;
  int timeout_seconds = 30;
  SourceLoc loc;
};

/// spec.agent: edgeforge-agent in the image (docs/profile-schema.md).
struct AgentSettings {
  bool enabled = true;
  int tries = 3;  // boot attempts of a new slot before GRUB falls back (1..3)
  std::vector<std::filesystem::path> keyring;  // extra trusted public keys (absolute)
  std::vector<std::string> revoked;            // key IDs (64 lower-case hex)
  int health_timeout_seconds = 300;
  /// Units that must become active; unset: the Kubernetes distribution's main
  /// unit when spec.kubernetes is set, else none (resolved by the build).
  std::optional<std::vector<std::string>> health_units;
  std::vector<AgentHealthCommand> health_commands;
  /// spec.agent.updates: how often edgeforge-watch.timer polls the release
  /// channel (the site file may override both), and the keys trusted to sign
  /// channels (/etc/edgeforge/channel-keyring; none: the bundle keyring).
  std::chrono::seconds update_interval = device::kDefaultUpdateInterval;
  std::chrono::seconds update_jitter = device::kDefaultUpdateJitter;
  std::vector<std::filesystem::path> channel_keyring;
  /// The fleet services' rollout keys (channel-keyring/rollout/): they may
  /// sign a channel's rollout state, never a channel document.
  std::vector<std::filesystem::path> rollout_keyring;
};

struct Profile {
  std::filesystem::path file;    // the profile given on the command line
  std::string name;              // metadata.name
  std::string version;           // metadata.version (semver)
  std::optional<int64_t> epoch;  // metadata.epoch (seconds since 1970)
  Base base;
  std::vector<Layer> layers;  // extended profiles' layers first
  Output output;
  BundleSettings bundle;
  std::optional<Kubernetes> kubernetes;  // spec.kubernetes
  std::vector<PackRef> packs;            // spec.packs, extended profiles' first
  std::filesystem::path site;            // spec.site: a site.yaml baked into the image
  std::string artifact_mirror;           // spec.artifactMirror: rewrites upstream URLs
  AgentSettings agent;                   // spec.agent
  SecureBoot secure_boot;                // spec.secureBoot
  /// Every profile file that contributed, in merge order (extends first).
  std::vector<std::filesystem::path> sources;
  /// sha256 over the sources' bytes, in merge order.
  std::string digest;

  /// The bundles' compatible string: spec.bundle.compatible, else the name.
  std::string compatible() const { return bundle.compatible.empty() ? name : bundle.compatible; }
};

}  // namespace ef::profile
