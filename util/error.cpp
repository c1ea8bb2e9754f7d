#include "util/error.hpp"

#include <cstring>

namespace ef {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::invalid_profile:
      return "invalid_profile";
    case Errc::not_found:
      return "not_found";
    case Errc::io:
      return "io";
    case Errc::checksum:
      return "checksum";
    case Errc::network:
      return "network";
    case Errc::offline:
      return "offline";
    case Errc::archive:
      return "archive";
    case Errc::hostile_entry:
      return "hostile_entry";
    case Errc::image:
      return "image";
    case Errc::subprocess:
      return "subprocess";
    case Errc::bad_bundle:
      return "bad_bundle";
    case Errc::bad_channel:
      return "bad_channel";
    case Errc::untrusted:
      return "untrusted";
    case Errc::refused:
      return "refused";
    case Errc::database:
      return "database";
    case Errc::internal:
      return "internal";
  }
  return "unknown";
}

Error errno_error(Errc code, const std::string& what, int err) {
  return Error(code, what + ": " + std::strerror(err));
}

}  // namespace ef
