// The extra initramfs archive edgeforge appends to the distribution's initrd
// (GRUB's `initrd A B` concatenates them, the kernel unpacks both): the
// boot=edgeforge script for initramfs-tools and the modules the stock initrd
// lacks. No chroot and no initramfs rebuild on the build host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iso/kernel_files.hpp"
#include "util/error.hpp"

namespace ef::iso {

/// Paths bind-mounted from the persistent partition by default (on top of the
/// persistent /etc and /var overlays): state that must live on a plain
/// filesystem, such as containerd's overlay snapshots.
std::vector<std::string> default_persistent_paths();

struct ExtraInitramfs {
  std::vector<KernelModule> modules;          // loaded in this order
  std::vector<std::string> persistent_paths;  // absolute paths
  int64_t epoch = 0;                          // mtime of every entry
  /// edgeforge-verity-open (static), as /edgeforge/bin/verity-open: maps
  /// the slot through dm-verity when the command line carries
  /// edgeforge.verity=. Empty: not carried (images without Secure Boot).
  std::string verity_open;
};

/// Writes the archive (cpio `newc`, uncompressed, entries in a fixed order,
/// owner root, inode numbers counted from 1) and returns its bytes. Errors: a
/// persistent path that is not absolute or holds a newline.
Result<std::string> build_extra_initramfs(const ExtraInitramfs& spec);

}  // namespace ef::iso
