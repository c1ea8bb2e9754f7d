// Whole-buffer reads and writes at an offset, retrying short transfers and
// EINTR; errors name the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>

#include "util/error.hpp"

namespace ef {

/// `path` made absolute against the working directory (not resolving
/// symlinks), for libraries and tools that must not depend on it.
Result<std::filesystem::path> absolute_path(const std::filesystem::path& path);

/// Reads exactly `size` bytes at `offset`; end of file first is Errc::io
/// ("unexpected end of file at byte N").
Result<void> pread_all(int fd, void* buf, size_t size, uint64_t offset,
                       const std::filesystem::path& path);

/// Writes exactly `size` bytes at `offset`.
Result<void> pwrite_all(int fd, const void* buf, size_t size, uint64_t offset,
                        const std::filesystem::path& path);

/// Reads [offset, offset + length) of `fd` sequentially through one 1 MiB
/// buffer and hands each chunk to `fn(data, size, position)`, `position`
/// counted from `offset`. Chunks are 1 MiB except the last, so they stay
/// multiples of any block size `length` is a multiple of. Stops at the
/// first error of `fn`.
Result<void> stream_range(
    int fd, uint64_t offset, uint64_t length, const std::filesystem::path& path,
    const std::function<Result<void>(const char* data, size_t size, uint64_t position)>& fn);

}  // namespace ef
