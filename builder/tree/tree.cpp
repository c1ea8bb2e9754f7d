#include "builder/tree/tree.hpp"

#include <functional>
#include <set>
#include <utility>

namespace ef::tree {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr size_t kMaxNameLength = 255;  // Linux NAME_MAX; squashfs allows no more

std::shared_ptr<Inode> make_dir_inode(int64_t mtime) {
  auto inode = std::make_shared<Inode>();
  inode->type = NodeType::directory;
  inode->mode = 0755;
  inode->mtime = mtime;
  return inode;
}

std::string join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < parts.size(); ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

Error hostile(std::string message) {
  return Error(Errc::hostile_entry, std::move(message));
}

// Removes every node of a layer below `layer` from `dir`'s subtree, keeping
// directories that the current layer re-declared (and their own entries).
void prune_lower(Node& dir, uint32_t layer) {
  for (auto it = dir.children.begin(); it != dir.children.end();) {
    Node& child = *it->second;
    if (child.layer < layer) {
      it = dir.children.erase(it);
      continue;
    }
    if (child.is_dir()) prune_lower(child, layer);
    ++it;
  }
}

}  // namespace

Result<std::vector<std::string>> split_path(std::string_view raw) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t slash = raw.find('/', pos);
    if (slash == std::string_view::npos) slash = raw.size();
    std::string_view part = raw.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..")
      return hostile("path '" + std::string(raw) +
                     "' contains a '..' component; edgeforge never writes outside the image root, "
                     "rebuild the input without parent-directory components");
    if (part.size() > kMaxNameLength)
      return hostile("path '" + std::string(raw) + "' has a name longer than 255 bytes");
    parts.emplace_back(part);
  }
  return parts;
}

Tree::Tree(int64_t default_mtime) : root_(std::make_unique<Node>()), default_mtime_(default_mtime) {
  root_->inode = make_dir_inode(default_mtime);
}

uint32_t Tree::add_source(SourceInfo info) {
  sources_.push_back(std::move(info));
  return static_cast<uint32_t>(sources_.size() - 1);
}

Node* Tree::lookup(const std::vector<std::string>& parts) {
  Node* node = root_.get();
  for (const auto& part : parts) {
    if (!node->is_dir()) return nullptr;
    auto it = node->children.find(part);
    if (it == node->children.end()) return nullptr;
    node = it->second.get();
  }
  return node;
}

Node* Tree::find(std::string_view path) {
  auto parts = split_path(path);
  return parts ? lookup(*parts) : nullptr;
}

const Node* Tree::find(std::string_view path) const {
  return const_cast<Tree*>(this)->find(path);
}

Result<Node*> Tree::parent_dir(const std::vector<std::string>& parts, std::string_view raw) {
  Node* node = root_.get();
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = node->children.find(parts[i]);
    if (it == node->children.end()) {
      auto child = std::make_unique<Node>();
      child->inode = make_dir_inode(default_mtime_);
      child->layer = layer_;
      it = node->children.emplace(parts[i], std::move(child)).first;
    }
    Node* next = it->second.get();
    if (!next->is_dir()) {
      std::string where = join(parts, i + 1);
      std::string what = node_type_name(next->inode->type);
      std::string hint = next->inode->type == NodeType::symlink
                             ? " (symlinks are never followed; use the path the link points to)"
                             : "";
      return hostile("'" + std::string(raw) + "' lies below '" + where + "', which is a " + what +
                     hint);
    }
    node = next;
  }
  return node;
}

Result<void> Tree::put(std::string_view path, std::shared_ptr<Inode> inode) {
  EF_ASSIGN(auto parts, split_path(path));
  if (parts.empty()) {
    if (inode->type != NodeType::directory)
      return hostile("the image root '" + std::string(path) + "' must be a directory, not a " +
                     node_type_name(inode->type));
    root_->inode = std::move(inode);
    root_->layer = layer_;
    return Ok{};
  }
  EF_ASSIGN(Node * parent, parent_dir(parts, path));
  auto& slot = parent->children[parts.back()];
  if (slot && slot->is_dir() && inode->type == NodeType::directory) {
    slot->inode = std::move(inode);  // directory over directory: keep children
  } else {
    slot = std::make_unique<Node>();  // anything else: the later entry wins outright
    slot->inode = std::move(inode);
  }
  slot->layer = layer_;
  return Ok{};
}

Result<void> Tree::link(std::string_view path, std::string_view target) {
  auto target_parts = split_path(target);
  if (!target_parts)
    return hostile("hard link '" + std::string(path) +
                   "' points outside the image: " + target_parts.error().message());
  Node* target_node = lookup(*target_parts);
  if (target_node == nullptr)
    return hostile("hard link '" + std::string(path) + "' -> '" + std::string(target) +
                   "': target not found (a hard link must name an entry that comes earlier in the "
                   "same or a lower layer)");
  if (target_node->is_dir())
    return hostile("hard link '" + std::string(path) + "' -> '" + std::string(target) +
                   "': target is a directory");
  auto self = split_path(path);
  if (self && lookup(*self) == target_node) return Ok{};  // "a" linked to itself
  return put(path, target_node->inode);
}

Result<bool> Tree::apply_whiteout(std::string_view path) {
  EF_ASSIGN(auto parts, split_path(path));
  if (parts.empty()) return false;
  const std::string& name = parts.back();
  if (name.compare(0, kWhiteoutPrefix.size(), kWhiteoutPrefix) != 0) return false;
  std::vector<std::string> dir_parts(parts.begin(), parts.end() - 1);
  Node* dir = lookup(dir_parts);
  if (name == kOpaqueMarker) {
    if (dir == nullptr) {
      EF_ASSIGN(dir, parent_dir(parts, path));
    }
    if (dir->is_dir()) prune_lower(*dir, layer_);
    return true;
  }
  if (dir == nullptr || !dir->is_dir()) return true;  // nothing below to hide
  auto it = dir->children.find(std::string_view(name).substr(kWhiteoutPrefix.size()));
  if (it != dir->children.end() && it->second->layer < layer_) dir->children.erase(it);
  return true;
}

void Tree::clamp_mtimes(int64_t epoch) {
  std::function<void(Node&)> walk = [&](Node& node) {
    if (node.inode->mtime > epoch) node.inode->mtime = epoch;
    for (auto& [name, child] : node.children) walk(*child);
  };
  walk(*root_);
}

TreeStats Tree::stats() const {
  TreeStats s;
  std::set<const Inode*> seen;
  std::function<void(const Node&)> walk = [&](const Node& node) {
    const Inode* inode = node.inode.get();
    if (!seen.insert(inode).second) {
      ++s.hardlinks;
      return;
    }
    switch (inode->type) {
      case NodeType::directory:
        ++s.directories;
        break;
      case NodeType::regular:
        ++s.files;
        s.file_bytes += inode->size;
        break;
      case NodeType::symlink:
        ++s.symlinks;
        break;
      case NodeType::char_device:
      case NodeType::block_device:
        ++s.devices;
        break;
      case NodeType::fifo:
        ++s.fifos;
        break;
      case NodeType::socket:
        ++s.sockets;
        break;
    }
    for (const auto& [name, child] : node.children) walk(*child);
  };
  walk(*root_);
  return s;
}

}  // namespace ef::tree
