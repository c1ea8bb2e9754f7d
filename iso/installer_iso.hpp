// The installer ISO, written in-process with libisofs: ISO 9660 + Rock Ridge
// + Joliet, El Torito BIOS (GRUB i386-pc-eltorito, boot info table) and UEFI
// (an embedded ESP image) entries, GRUB's hybrid MBR and a GPT entry for the
// ESP so the same file boots from a CD and from a USB stick written with dd.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "iso/disk_image.hpp"
#include "iso/initramfs.hpp"
#include "util/error.hpp"

namespace ef::iso {

struct IsoSpec {
  std::filesystem::path squashfs;  // the OS image, carried as /edgeforge/rootfs.squashfs
  std::string image_sha256;        // its sha256 when the caller has it (else hashed here)
  std::string sbom_sha256;         // the build's SBOM, recorded for the agent (may be empty)
  int64_t epoch = 0;               // every timestamp in the ISO
  std::string cmdline = "console=tty0 console=ttyS0,115200";
  int timeout = 5;  // seconds the menu waits before "install"
  /// A site file carried as /edgeforge/site/site.yaml (empty: none): the
  /// installer renders it onto the persistent partition and its `install:`
  /// section asks for an unattended install.
  std::filesystem::path site;
  /// What the installer writes (/edgeforge/install.json): the layout of the
  /// raw disk image, slot A's boot files, the agent's initial state.
  DiskLayout layout;
  std::vector<std::string> persistent_paths = default_persistent_paths();
  std::string product = "edgeforge", version = "0.0.0", min_version = "0.0.0";
  int grub_timeout = 2;                        // the installed disk's slot menu
  std::string site_registries = "containerd";  // "k3s" when the image runs k3s
};

struct IsoInfo {
  std::string volume_id;  // the label GRUB and the initramfs find the medium by
  uint64_t size = 0;
  /// Seconds spent writing the image itself (libisofs, fsync), after the
  /// boot files were prepared: what `-v` reports and scripts/bench-iso.sh
  /// sets against xorriso.
  double write_seconds = 0;
};

/// The ISO volume id for an image with sha256 `digest`: "EDGEFORGE_" + 8 hex digits.
std::string iso_volume_id(const std::string& digest);

/// Writes the installer ISO to `out` (atomically); `work_dir` holds the GRUB
/// and ESP images. Same inputs, same bytes. Besides the live system it
/// carries what `edgeforge-agent install` needs: /edgeforge/install.json and
/// the installed ESP's files under /edgeforge/esp/ (the kernel and initrd
/// are shared with /boot/). Errors: the image does not fit `layout`.
Result<IsoInfo> build_installer_iso(const IsoSpec& spec, const std::filesystem::path& out,
                                    const std::filesystem::path& work_dir);

}  // namespace ef::iso
