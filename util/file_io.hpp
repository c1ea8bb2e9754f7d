// Whole-buffer reads and writes at an offset, retrying short transfers and
// EINTR; errors name the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "util/error.hpp"

namespace ef {

/// Reads exactly `size` bytes at `offset`; end of file first is Errc::io
/// ("unexpected end of file at byte N").
Result<void> pread_all(int fd, void* buf, size_t size, uint64_t offset,
                       const std::filesystem::path& path);

/// Writes exactly `size` bytes at `offset`.
Result<void> pwrite_all(int fd, const void* buf, size_t size, uint64_t offset,
                        const std::filesystem::path& path);

}  // namespace ef
