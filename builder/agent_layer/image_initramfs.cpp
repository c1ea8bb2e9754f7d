#include "builder/agent_layer/image_initramfs.hpp"

#include "builder/profile/profile.hpp"
#include "builder/tree/boot_files.hpp"
#include "builder/tree/data_stream.hpp"
#include "iso/initramfs.hpp"
#include "iso/kernel_files.hpp"

namespace ef::agent_layer {
namespace {

constexpr uint64_t kMaxModuleBytes = 64ull << 20;

const tree::Node* regular(const tree::Tree& tree, const std::string& path) {
  const tree::Node* n = tree.find(path);
  return n != nullptr && n->inode->type == tree::NodeType::regular ? n : nullptr;
}

}  // namespace

std::vector<std::string> image_boot_modules() {
  std::vector<std::string> mods = iso::default_boot_modules();
  mods.push_back("isofs");
  return mods;
}

std::optional<std::string> tree_kernel_version(const tree::Tree& tree) {
  auto chosen = tree::choose_boot_files(tree);
  if (!chosen || chosen->version.empty()) return std::nullopt;
  return chosen->version;
}

std::vector<std::string> verified_boot_modules() {
  // dm-crypt with LUKS2's default cipher (aes-xts-plain64; AES-NI where the
  // CPU has it) and the kernel crypto API for cryptsetup, for the persistent
  // partition.
  return {"dm-verity", "efivarfs", "dm-crypt", "xts", "ecb", "aesni-intel", "algif_skcipher"};
}

std::vector<std::string> verified_boot_tools() {
  const std::string lib = "usr/lib/x86_64-linux-gnu/";
  return {"usr/sbin/cryptsetup",
          "usr/bin/systemd-cryptenroll",
          lib + "cryptsetup/libcryptsetup-token-systemd-tpm2.so",
          lib + "libtss2-esys.so.0",
          lib + "libtss2-rc.so.0",
          lib + "libtss2-mu.so.0",
          lib + "libtss2-tcti-device.so.0",
          "usr/sbin/blkid",
          "usr/sbin/mke2fs"};
}

Result<void> check_verified_boot_tools(const tree::Tree& tree) {
  std::vector<std::string> missing;
  for (const std::string& path : verified_boot_tools())
    // Images without merged /usr have /sbin/cryptsetup and /lib/...
    if (tree.find(path) == nullptr && tree.find(path.substr(4)) == nullptr)
      missing.push_back("/" + path);
  if (missing.empty()) return Ok{};
  std::string more =
      missing.size() > 1 ? " and " + std::to_string(missing.size() - 1) + " more" : "";
  // The packages the profile loader adds to an mmdebstrap base.
  std::string packages;
  for (const char* p : profile::kSecureBootPackages)
    packages += std::string(packages.empty() ? "" : ", ") + p;
  return Error(Errc::not_found,
               "the image lacks " + missing.front() + more +
                   ": with spec.secureBoot the initramfs seals and unlocks the persistent "
                   "partition with the image's own cryptsetup and systemd-cryptenroll; add " +
                   packages + " to the base (an mmdebstrap base gets them by itself)");
}

Result<std::optional<std::string>> build_image_initramfs(
    const tree::Tree& tree, const std::vector<std::string>& persistent_paths, int64_t epoch,
    const std::string& verity_open) {
  auto version = tree_kernel_version(tree);
  if (!version) return std::optional<std::string>{};
  // Merged /usr keeps /lib a symlink, which the tree never follows.
  std::string moddir = "usr/lib/modules/" + *version;
  const tree::Node* dep = regular(tree, moddir + "/modules.dep");
  if (dep == nullptr) {
    moddir = "lib/modules/" + *version;
    dep = regular(tree, moddir + "/modules.dep");
  }
  if (dep == nullptr)
    return Error(Errc::not_found, "the image has /boot/vmlinuz-" + *version +
                                      " but no modules.dep for it; the initramfs addition "
                                      "needs the kernel's modules (linux-image-* ships them)");
  EF_ASSIGN(auto dep_text, tree::read_file_content(tree, *dep->inode, kMaxModuleBytes));
  if (!verity_open.empty()) EF_TRY(check_verified_boot_tools(tree));
  std::vector<std::string> wanted = image_boot_modules();
  if (!verity_open.empty())
    for (const std::string& m : verified_boot_modules())
      if (iso::resolve_modules(dep_text, {m})) wanted.push_back(m);
  auto order = iso::resolve_modules(dep_text, wanted);
  if (!order) return std::move(order).error().with_context("/" + moddir);
  std::vector<const tree::Inode*> inodes;
  for (const auto& rel : *order) {
    const tree::Node* m = regular(tree, moddir + "/" + rel);
    if (m == nullptr)
      return Error(Errc::not_found, "/" + moddir + "/" + rel +
                                        " is listed in modules.dep but "
                                        "missing from the image");
    inodes.push_back(m->inode.get());
  }
  EF_ASSIGN(auto contents, tree::read_files_content(tree, inodes, kMaxModuleBytes));
  iso::ExtraInitramfs spec;
  for (size_t i = 0; i < order->size(); ++i) {
    const std::string& rel = (*order)[i];
    spec.modules.push_back({rel.substr(rel.rfind('/') + 1), std::move(contents[i])});
  }
  spec.persistent_paths = persistent_paths;
  spec.epoch = epoch;
  spec.verity_open = verity_open;
  EF_ASSIGN(auto cpio, iso::build_extra_initramfs(spec));
  return std::optional<std::string>(std::move(cpio));
}

}  // namespace ef::agent_layer
