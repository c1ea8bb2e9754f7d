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

/// For a GPT disk image: lists partitions, the ESP's files and the A/B slot
/// state from its grubenv; with `path`, prints that file from the ESP.
Result<void> inspect_disk(const std::string& disk, const std::string& path, std::ostream& out);

}  // namespace ef::cli
