// The device's side of the fleet service (docs/fleet-api.md): its Ed25519
// key, its registration, and the queue of status reports it sends, oldest
// first, whenever the service answers. Nothing here is needed to update: a
// device whose service is away keeps following its channel and keeps its
// reports (bounded) until the service is back.
//
// On the persistent partition (DIR = persist/agent/fleet):
//   DIR/device.key   the private key, PEM, 0600; never logged, never in an image
//   DIR/fleet.json   device ID, endpoint, registration state, the last
//                    sequence number used, reports dropped for space
//   DIR/queue/N.json one report each, N rising
//   DIR/lock         flock: one client at a time
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/lock.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"
#include "util/http_stream.hpp"
#include "util/utc_time.hpp"

namespace ef::agent {

/// The site's `registration:` as the device has it.
struct FleetRegistration {
  std::string endpoint;  // http(s)://HOST[:PORT][/PREFIX]: the API is PREFIX/api/v1/
  std::string token;     // the registration token (a secret)
  std::string device_id = "machine-id";  // where the ID comes from: machine-id or serial
};

/// Reads the site's registration (site::kRegistrationPath, a site file);
/// nullopt when there is no such file or it names no endpoint: the device
/// reports to no service. Errors name the file.
Result<std::optional<FleetRegistration>> load_registration(const std::filesystem::path& path);

/// This device's ID: `override` when given, else the DMI serial number when
/// the registration says `deviceId: serial`, else /etc/machine-id.
struct DeviceIdSources {
  std::filesystem::path machine_id = "/etc/machine-id";
  std::filesystem::path serial = "/sys/class/dmi/id/product_serial";
};
Result<std::string> resolve_device_id(const std::string& override_id, const std::string& from,
                                      const DeviceIdSources& sources = {});

/// How much the queue keeps while the service is away: the newest reports
/// win (the oldest are dropped, and counted in the next report).
struct QueueLimits {
  size_t max_reports = 200;
  size_t max_bytes = 512 * 1024;
};

class ReportQueue {
 public:
  explicit ReportQueue(std::filesystem::path dir, QueueLimits limits = {})
      : dir_(std::move(dir)), limits_(limits) {}

  struct Entry {
    std::filesystem::path file;
    uint64_t number = 0;
    std::string body;
  };
  /// Adds a report (written atomically and durably); drops the oldest while
  /// over the limits. Returns how many it dropped.
  Result<uint64_t> push(const std::string& body);
  /// Every queued report, oldest first. An unreadable entry is removed.
  Result<std::vector<Entry>> entries() const;
  Result<void> remove(const Entry& entry);

 private:
  std::filesystem::path dir_;
  QueueLimits limits_;
};

struct FleetOptions {
  std::filesystem::path dir;  // persist/agent/fleet
  FleetRegistration registration;
  std::string device_id;
  HttpStreamOptions http;
  QueueLimits limits;
  int lock_wait_seconds = 60;  // for another client of the same DIR to finish
};

/// What one flush did.
struct FlushResult {
  std::string state;  // the registration's: "", unpaired, ready
  size_t sent = 0;
  size_t queued = 0;  // left in the queue
  std::string error;  // why sending stopped early, "" when the queue emptied
};

class FleetClient {
 public:
  /// Takes DIR/lock (held while the client lives), then loads the device
  /// key (making it, 0600, the first time) and fleet.json.
  static Result<FleetClient> open(const FleetOptions& options);

  const std::string& device_id() const { return options_.device_id; }
  const std::string& state() const { return state_; }

  /// Queues `report` (an object) with the device ID, the time it was made
  /// and how many older reports were dropped for space.
  Result<void> queue(nlohmann::json report, UnixSeconds now);

  /// Registers when not yet registered, then sends the queued reports,
  /// oldest first, each signed with a new sequence number (saved before it
  /// is sent, so a number is never used twice; at least `now` in
  /// milliseconds, so numbers keep rising when fleet.json is lost). Stops at the first report
  /// the service does not take for a reason that may pass (unreachable,
  /// 5xx, not yet approved); a report the service refuses for good (it
  /// already has it, or it is malformed) is dropped. Network trouble is
  /// reported in FlushResult::error, not as an error: the reports wait.
  Result<FlushResult> flush(UnixSeconds now);

 private:
  FleetClient(FleetOptions options, signing::SigningKey key, AgentLock lock)
      : options_(std::move(options)), key_(std::move(key)), lock_(std::move(lock)) {}
  Result<void> save() const;
  Result<std::string> register_device();

  FleetOptions options_;
  signing::SigningKey key_;
  AgentLock lock_;
  std::string state_;  // registration state as the service last said
  int64_t seq_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace ef::agent
