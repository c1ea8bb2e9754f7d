// The installer's plan, carried on the ISO as /edgeforge/install.json: the
// image, the partition table the raw disk image has (same sizes, GUIDs,
// FAT volume id, ext4 UUID), and where each ESP file comes from on the
// medium. The ISO builder writes it; `edgeforge-agent install` reads it, so
// an installed disk and a flashed raw image have the same layout. This
// library depends only on util and JSON so the agent can link it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::device {

/// Path of the manifest on the medium (relative to its root).
inline constexpr const char* kInstallManifestPath = "edgeforge/install.json";
/// Where the ISO carries the OS image and the site file.
inline constexpr const char* kMediumImagePath = "edgeforge/rootfs.squashfs";
inline constexpr const char* kMediumSitePath = "edgeforge/site/site.yaml";

/// GPT partition type GUIDs: the ESP, and "Linux data" for slots and state
/// (systemd's gpt-auto generator must not claim them).
inline constexpr const char* kEspTypeGuid = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
inline constexpr const char* kLinuxTypeGuid = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
/// GRUB's BIOS boot partition ("bios_grub"): holds the core image on GPT disks.
inline constexpr const char* kBiosBootTypeGuid = "21686148-6449-6E6F-744E-656564454649";
/// The bios_grub partition fills the gap between the GPT and the ESP.
inline constexpr const char* kBiosLabel = "edgeforge-bios";
inline constexpr uint64_t kBiosFirstLba = 34;

struct PlannedPartition {
  std::string name;     // the GPT PARTLABEL, e.g. "edgeforge-slot-a"
  uint64_t offset = 0;  // bytes, a multiple of 1 MiB
  uint64_t size = 0;
  std::string guid;
  std::string type;  // type GUID
};

struct EspSourceFile {
  std::string path;    // on the ESP, "/slot-a/vmlinuz"
  std::string source;  // on the medium, relative to its root, "boot/vmlinuz"
  std::string sha256;
  uint64_t size = 0;
};

struct InstallManifest {
  std::string product, version, min_version = "0.0.0";
  std::string image_sha256;
  uint64_t image_size = 0;
  std::string sbom_sha256;  // the build's SBOM (image.sbomSha256); empty: none recorded
  std::string disk_guid;
  uint64_t disk_size = 0;                    // smallest disk the layout fits (both GPT copies)
  std::vector<PlannedPartition> partitions;  // ESP, slot A, slot B, persistent
  std::string esp_label = "EFBOOT";
  std::string esp_volume_id;  // "ABCD-1234", what GRUB's search --fs-uuid looks for
  std::vector<EspSourceFile> esp_files;
  /// GRUB for BIOS firmware (path "mbr": boot code for sector 0's first 440
  /// bytes; path "core": the bios_grub partition's content). Empty: UEFI only.
  std::vector<EspSourceFile> bios_files;
  std::string persistent_label = "edgeforge-data";
  std::string persistent_uuid, persistent_hash_seed;
  /// Who reads registry settings of a site file: "k3s" or "containerd".
  std::string site_registries = "containerd";

  /// The partition named `name`, or nullptr.
  const PlannedPartition* partition(const std::string& name) const;
};

/// Canonical JSON text (sorted keys, 2-space indent).
std::string render_install_manifest(const InstallManifest& m);

/// Parses install.json; `label` names the file in errors. Errors: not JSON,
/// an unknown format version, a missing field, a partition layout without
/// the four edgeforge partitions.
Result<InstallManifest> parse_install_manifest(const std::string& text, const std::string& label);

/// The sfdisk script for the GPT: label-id, then one line per partition with
/// start, size, type, uuid and name (in sectors of 512 bytes).
std::string sfdisk_script(const std::string& disk_guid,
                          const std::vector<PlannedPartition>& partitions);

}  // namespace ef::device
