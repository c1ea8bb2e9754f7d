#include "image/sqfs_handles.hpp"

#include <sqfs/error.h>

namespace ef::image {

const char* sqfs_error_name(int code) {
  switch (code) {
    case SQFS_ERROR_ALLOC:
      return "out of memory";
    case SQFS_ERROR_IO:
      return "input/output error";
    case SQFS_ERROR_COMPRESSOR:
      return "compressor failure";
    case SQFS_ERROR_INTERNAL:
      return "internal libsquashfs error";
    case SQFS_ERROR_CORRUPTED:
      return "corrupted or unreadable image";
    case SQFS_ERROR_UNSUPPORTED:
      return "unsupported feature or setting";
    case SQFS_ERROR_OVERFLOW:
      return "a size or count exceeds the squashfs format's limits";
    case SQFS_ERROR_OUT_OF_BOUNDS:
      return "a reference points outside the image";
    case SFQS_ERROR_SUPER_MAGIC:
      return "not a squashfs image (bad magic)";
    case SFQS_ERROR_SUPER_VERSION:
      return "unsupported squashfs version";
    case SQFS_ERROR_SUPER_BLOCK_SIZE:
      return "invalid block size";
    case SQFS_ERROR_NOT_DIR:
      return "not a directory";
    case SQFS_ERROR_NO_ENTRY:
      return "no such file or directory";
    case SQFS_ERROR_LINK_LOOP:
      return "hard link loop";
    case SQFS_ERROR_NOT_FILE:
      return "not a regular file";
    case SQFS_ERROR_ARG_INVALID:
      return "invalid argument";
    case SQFS_ERROR_SEQUENCE:
      return "calls in the wrong order";
    default:
      return "unknown libsquashfs error";
  }
}

}  // namespace ef::image
