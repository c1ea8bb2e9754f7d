// The data pass: every regular file's bytes, streamed from its input into
// the image writer, each inode once, in (source, ordinal) order. Inputs are
// read sequentially, so memory does not grow with file data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::tree {

/// Receives file data; implemented by the image writer.
class FileSink {
 public:
  virtual ~FileSink() = default;
  /// Starts the file of `inode` (the sink may keep the pointer until it finishes).
  virtual Result<void> begin_file(Inode& inode) = 0;
  virtual Result<void> append(const void* data, size_t size) = 0;
  virtual Result<void> end_file() = 0;
};

/// Streams every regular file of `tree` into `sink`.
Result<void> stream_file_data(Tree& tree, FileSink& sink);

/// Reads the content of one regular file of `tree` (at most `max_size`
/// bytes; more is an error). For small files such as the dpkg status.
Result<std::string> read_file_content(const Tree& tree, const Inode& inode, uint64_t max_size);

/// Reads several regular files of `tree` in one pass per input, each at
/// most `max_size` bytes; the result is in the order of `inodes`.
Result<std::vector<std::string>> read_files_content(const Tree& tree,
                                                    const std::vector<const Inode*>& inodes,
                                                    uint64_t max_size);

}  // namespace ef::tree
