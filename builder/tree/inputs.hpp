// Layer inputs: each function merges one input into the tree as a new layer
// (metadata pass; file data stays in the input, see data_stream.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::tree {

/// Merges every entry of an archive (tar, optionally compressed), honouring
/// OCI whiteouts. Errors name `source.label`, the entry number, its path and
/// the header offset.
Result<void> apply_archive(Tree& tree, SourceInfo source);

/// Options for a host directory copied into the image.
struct DirectoryInput {
  std::filesystem::path dir;
  uint32_t uid = 0;  // owner of every entry (root unless the layer says otherwise)
  uint32_t gid = 0;
  int64_t mtime = 0;  // host mtimes depend on the checkout, so entries get this one
  std::string label;
};

/// Merges a host directory tree: modes and symlinks from the host, owner and
/// mtime from `input`. Host xattrs are not copied (they differ between hosts
/// and users); use a tarball layer for xattrs.
Result<void> apply_directory(Tree& tree, const DirectoryInput& input);

/// One file given in the profile.
struct InlineFile {
  std::string path;
  std::optional<std::string> content;  // or:
  std::filesystem::path source;        // host file
  uint32_t mode = 0644, uid = 0, gid = 0;
};

/// Merges profile-declared files (missing parent directories are created).
Result<void> apply_files(Tree& tree, const std::vector<InlineFile>& files, int64_t mtime,
                         const std::string& label);

/// Merges the layers of an OCI image (an image-layout directory, an OCI
/// archive, or a `docker save` archive), base layer first, each as a layer
/// of its own. `ref` picks the image by tag / ref name when there are several.
Result<void> apply_oci(Tree& tree, const std::filesystem::path& path, const std::string& ref,
                       const std::string& label);

}  // namespace ef::tree
