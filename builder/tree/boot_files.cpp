#include "builder/tree/boot_files.hpp"

#include <string>
#include <vector>

namespace ef::tree {

std::optional<image::BootFiles> choose_boot_files(const Tree& tree) {
  // The entries image::choose_boot_files looks at: the root's and /boot's.
  std::vector<image::ImageEntry> entries;
  for (std::string dir : {"", "boot"}) {
    const Node* node = tree.find(dir);
    if (node == nullptr || !node->is_dir()) continue;
    for (const auto& [name, child] : node->children) {
      image::ImageEntry e;
      e.path = (dir.empty() ? "/" : "/" + dir + "/") + name;
      e.type = child->inode->type;
      e.target = child->inode->target;
      entries.push_back(std::move(e));
    }
  }
  return image::choose_boot_files(entries);
}

}  // namespace ef::tree
