// RAII ownership of libsquashfs objects (internal to this module).
#pragma once

#include <sqfs/predef.h>

#include <memory>

namespace ef::squashfs {

struct SqfsDeleter {
  void operator()(void* obj) const {
    if (obj) sqfs_destroy(obj);
  }
};

template <typename T>
using SqfsPtr = std::unique_ptr<T, SqfsDeleter>;

/// Returns "libsquashfs error N (meaning)" for an SQFS_ERROR code.
const char* sqfs_error_name(int code);

}  // namespace ef::squashfs
