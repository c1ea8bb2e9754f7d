// Time zones read from the system's TZif files (/usr/share/zoneinfo), for
// converting between UTC and a zone's local wall-clock time.
//
// GCC 12's libstdc++ has no std::chrono::zoned_time, and glibc's
// localtime_r/mktime answer only for the process-wide TZ: switching TZ under
// a mutex is not thread-safe against any other thread calling localtime or
// getenv, silently falls back to UTC for an unknown zone, and mktime's
// choice for skipped or repeated local times depends on tm_isdst. So this
// reads TZif itself (RFC 8536: the 64-bit version 2+ data, and the POSIX TZ
// footer for times after the last stored transition, which Debian's "slim"
// files rely on from 2007 on). A TimeZone is immutable and cheap to copy.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ef {

class TimeZone {
 public:
  /// UTC, without reading any file.
  static TimeZone utc();

  /// Loads the IANA zone `name` ("Europe/Berlin") from `zoneinfo_dir`.
  /// Names that could leave the directory (a leading '/', a ".." part) or
  /// hold characters other than [A-Za-z0-9._+-/] are Errc::invalid_argument;
  /// a missing zone is Errc::not_found; a malformed file Errc::invalid_argument.
  static Result<TimeZone> load(std::string_view name,
                               const std::filesystem::path& zoneinfo_dir = "/usr/share/zoneinfo");

  /// Parses TZif `data` (versions 1 to 4); `name` is what name() returns.
  /// Leap-second ("right/") files are refused: Unix time has no leap seconds.
  static Result<TimeZone> from_tzif(std::string_view data, std::string name);

  /// A zone given only by a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3",
  /// "<+0530>-5:30"), as in a TZif footer.
  static Result<TimeZone> from_posix(std::string_view tz);

  /// The zone's name as loaded ("UTC" for utc(), the TZ string for from_posix()).
  const std::string& name() const;

  /// The offset from UTC (east positive) in effect at `t`.
  std::chrono::seconds offset_at(std::chrono::sys_seconds t) const;

  /// The local wall-clock time at `t`.
  std::chrono::local_seconds to_local(std::chrono::sys_seconds t) const;

  /// The first instant at which the local clock reads `local` or later:
  /// `local` itself when it happens once, its first occurrence when the
  /// clocks are put back over it, and the moment the clocks jump when it is
  /// skipped (02:30 on a day clocks go from 02:00 to 03:00 maps to 03:00).
  /// Never decreases as `local` increases.
  std::chrono::sys_seconds first_at_or_after(std::chrono::local_seconds local) const;

  struct Data;  // the parsed zone (time_zone.cpp)

 private:
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

}  // namespace ef
