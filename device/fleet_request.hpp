// How a device signs its requests to the fleet service (docs/fleet-api.md):
// the bytes its Ed25519 key signs, and the headers that carry them. The agent
// signs (agent/), the service verifies (fleet/); both build the message here
// so they cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ef::device {

inline constexpr const char* kFleetDeviceHeader = "X-Edgeforge-Device";
inline constexpr const char* kFleetSeqHeader = "X-Edgeforge-Seq";
inline constexpr const char* kFleetTimeHeader = "X-Edgeforge-Time";
inline constexpr const char* kFleetSignatureHeader = "X-Edgeforge-Signature";

/// "edgeforge-fleet-v1\nMETHOD\nPATH\nDEVICE\nSEQ\nTIME\nsha256(BODY)": what
/// the device key signs. SEQ rises with every request a device sends (the
/// service refuses one that does not: a replay); TIME is the device's clock
/// in Unix seconds, recorded, not trusted.
std::string fleet_request_message(std::string_view method, std::string_view path,
                                  std::string_view device_id, int64_t seq, int64_t time,
                                  std::string_view body);

}  // namespace ef::device
