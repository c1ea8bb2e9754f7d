// Node content: the files, links and directories the Kubernetes layer, the
// packs and the site configuration add to an image. One model, two outputs:
// merged into the image tree (apply_content) or written by the provision
// script onto a mutable host (provision_script.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::node {

struct Entry {
  enum class Kind { directory, file, symlink };
  Kind kind = Kind::file;
  std::string path;            // absolute path inside the image
  std::string text;            // file: inline bytes (when `blob` is empty); symlink: target
  std::filesystem::path blob;  // file: a verified host file (download cache blob)
  std::string sha256;          // file from `blob`: its digest
  uint32_t mode = 0644;
  bool secret = false;  // content carries credentials: never logged nor recorded
  std::string origin;   // "kubernetes k3s", "pack calico 3.27.0", "site"
};

/// An ordered list of entries; later entries replace earlier ones at the
/// same path.
class Content {
 public:
  void dir(const std::string& path, const std::string& origin, uint32_t mode = 0755);
  void file(const std::string& path, std::string text, const std::string& origin,
            uint32_t mode = 0644, bool secret = false);
  void blob(const std::string& path, const std::filesystem::path& blob, const std::string& sha256,
            const std::string& origin, uint32_t mode = 0755);
  void link(const std::string& path, const std::string& target, const std::string& origin);
  void append(const Content& other);

  const std::vector<Entry>& entries() const { return entries_; }
  /// The entry at `path` (last wins), or nullptr.
  const Entry* find(const std::string& path) const;

  /// What the build manifest records: path, kind, mode, origin, and the
  /// sha256 of non-secret files. Secret files are listed without a digest.
  nlohmann::json record() const;

 private:
  std::vector<Entry> entries_;
};

/// Merges `content` into `tree` as one new layer; files and directories are
/// root-owned, every entry gets `mtime`.
Result<void> apply_content(tree::Tree& tree, const Content& content, int64_t mtime,
                           const std::string& label);

}  // namespace ef::node
