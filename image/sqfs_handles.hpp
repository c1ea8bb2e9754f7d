// RAII ownership of libsquashfs objects, for the squashfs reader here and the
// writer in builder/squashfs.
#pragma once

#include <sqfs/predef.h>

#include <memory>

namespace ef::image {

struct SqfsDeleter {
  void operator()(void* obj) const {
    if (obj) sqfs_destroy(obj);
  }
};

template <typename T>
using SqfsPtr = std::unique_ptr<T, SqfsDeleter>;

/// Returns "libsquashfs error N (meaning)" for an SQFS_ERROR code.
const char* sqfs_error_name(int code);

}  // namespace ef::image
