#include "device/fleet_request.hpp"

#include "util/sha256.hpp"

namespace ef::device {

std::string fleet_request_message(std::string_view method, std::string_view path,
                                  std::string_view device_id, int64_t seq, int64_t time,
                                  std::string_view body) {
  std::string m = "edgeforge-fleet-v1\n";
  m.append(method).append("\n").append(path).append("\n").append(device_id).append("\n");
  m += std::to_string(seq) + "\n" + std::to_string(time) + "\n" + sha256_hex(body);
  return m;
}

}  // namespace ef::device
