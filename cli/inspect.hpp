// `edgeforge inspect IMAGE`: list entries, print a file.
#pragma once

#include <ostream>
#include <string>

#include "util/error.hpp"

namespace ef::cli {

/// Prints every entry of the image `ls -l` style (with xattrs) to `out`,
/// or as a JSON array when `json` is set.
Result<void> inspect_list(const std::string& image, bool json, std::ostream& out);

/// Writes the content of `path` inside the image to `out`.
Result<void> inspect_cat(const std::string& image, const std::string& path, std::ostream& out);

}  // namespace ef::cli

namespace ef::cli {

struct DiskQuery {
  std::string partition;  // "esp", "a", "b", "persistent" or a GPT name
  std::string path;       // a file to print
  bool json = false;      // list entries as JSON
};

/// For a GPT disk image: with no partition and no path, lists partitions,
/// what each slot holds, the ESP's files and the A/B slot state from its
/// grubenv. With a partition, lists its entries (squashfs slots and the ext4
/// persistent partition `ls -l` style, the ESP's paths); with a path, prints
/// that file from the partition (the ESP when none is named).
Result<void> inspect_disk(const std::string& disk, const DiskQuery& query, std::ostream& out);

}  // namespace ef::cli
