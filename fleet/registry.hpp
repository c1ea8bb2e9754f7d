// The fleet service's record of devices: registration tokens, registration
// (pre-provisioned or on-site), approval, and the device reports it accepts.
// Every rule lives here, over fleet/database.hpp, so SQLite and PostgreSQL
// behave the same; the HTTP layer only translates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fleet/database.hpp"
#include "fleet/placement.hpp"
#include "util/error.hpp"
#include "util/utc_time.hpp"

namespace ef::fleet {

enum class DeviceState {
  provisioned,  // imported by an operator; not registered yet
  unpaired,     // registered on site; waits for an operator's approval
  ready,        // registered and approved: its reports are accepted
};
const char* device_state_name(DeviceState s);

struct TokenSpec {
  uint64_t lifetime_seconds = 7 * 86400;
  bool single_use = false;
  bool auto_approve = false;  // devices registering with it are ready at once
};

struct Device {
  std::string id;
  DeviceState state = DeviceState::unpaired;
  std::string public_key;  // PEM; "" until it registered
  UnixSeconds created = 0;
  std::optional<UnixSeconds> registered, last_report;
  int64_t last_seq = 0;
  std::string status;           // the last accepted report (JSON), "" before any
  Placement placement;          // where that report puts it (fleet/rollup.hpp)
  UnixSeconds phase_since = 0;  // when the service first saw it in placement.phase
};

/// Device IDs: 1 to 128 of [A-Za-z0-9._:-], starting with a letter or digit
/// (machine IDs, serial numbers, host names).
Result<void> check_device_id(const std::string& id);

class Registry {
 public:
  explicit Registry(Database& db) : db_(db) {}

  /// A new registration token; returns its secret (shown once; only its
  /// sha256 is stored).
  Result<std::string> create_token(const TokenSpec& spec, UnixSeconds now);

  /// Pre-provisioning: these devices go ready as soon as they register.
  /// IDs already known are left as they are. Returns how many were new.
  Result<uint64_t> import_devices(const std::vector<std::string>& ids, UnixSeconds now);

  /// Registers `id` with `public_key` (PEM, Ed25519) using `token`. Errors:
  /// Errc::refused for an unknown, expired or used-up token, or for an ID
  /// already registered with another key (the same key again is the same
  /// registration: its state is returned unchanged).
  Result<DeviceState> register_device(const std::string& id, const std::string& public_key,
                                      const std::string& token, UnixSeconds now);

  /// An operator approves an unpaired device. Errc::not_found for none.
  Result<void> approve(const std::string& id);

  /// One trivial statement: whether the database answers.
  Result<void> check();

  Result<std::optional<Device>> device(const std::string& id);

  struct Report {
    int64_t seq = 0;
    UnixSeconds received = 0;
    std::string body;
  };
  /// The device's last `limit` reports, newest first.
  Result<std::vector<Report>> reports(const std::string& id, int64_t limit);
  Result<std::vector<Device>> devices();
  /// The devices whose last report places them in `release` of `channel`.
  Result<std::vector<Device>> devices_in(const std::string& channel, const std::string& release);

  /// Accepts report `seq` of a ready device: `seq` must be above every
  /// sequence number accepted from it before (a replay or a reordering is
  /// Errc::refused and changes nothing). Stores the report and makes it the
  /// device's current status, in one transaction.
  Result<void> accept_report(const std::string& id, int64_t seq, const std::string& body,
                             UnixSeconds now);
  /// accept_report for a report whose signature the caller checked with
  /// `public_key` (PEM) without reading the device: taken only while that
  /// is still the device's registered key, checked in the same statement
  /// that takes it. False, with nothing changed, when it is not taken for
  /// any reason (another key, not ready, unknown, a replay); the caller then
  /// reads the device and decides.
  Result<bool> accept_report_if_key(const std::string& id, const std::string& public_key,
                                    int64_t seq, const std::string& body, UnixSeconds now);

 private:
  Result<bool> take_report(const std::string& id, const std::string* public_key, int64_t seq,
                           const std::string& body, UnixSeconds now);
  Database& db_;
};

}  // namespace ef::fleet
