// The operator's side of a channel: a directory (what a web server, bucket
// or USB stick serves) holding CHANNEL.json next to the bundles and bundle
// heads it names. Every change reads the current file, raises its metadata
// version, re-signs it and replaces it atomically.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"

namespace ef::channel {

/// DIR/NAME.json.
std::filesystem::path channel_path(const std::filesystem::path& dir, const std::string& name);

/// A release from files already in `dir`: `bundle` (.efb) and/or `head`
/// (.efbh), paths inside `dir`. Product, compatible and version come from
/// the bundle's manifest (both must agree), checked against `keyring` when
/// given; sha256 and size from the files.
Result<Release> release_from_files(const std::filesystem::path& dir,
                                   const std::optional<std::filesystem::path>& bundle,
                                   const std::optional<std::filesystem::path>& head);

/// Parses a wave given on the command line:
///   NAME=N%[,soak=DUR][,not-before=TIME][,max-per-hour=N]
///   NAME=tag:KEY=VALUE[+KEY=VALUE...][,...]
///   NAME=device:ID[+ID...][,...]
/// Errors quote the spec.
Result<Wave> parse_wave_spec(const std::string& spec);

/// Parses a rollout gate given on the command line: "off" (none), or
/// comma-separated min-succeeded=N, max-failed=P%, min-finished=N,
/// deadline=DUR (each optional; the rest keep Gate's defaults).
Result<std::optional<Gate>> parse_gate_spec(const std::string& spec);

/// The next document: `current` (or a new channel NAME) with version + 1,
/// issued at `now`, expiring `lifetime` seconds later, then `change` applied.
ChannelDoc next_version(const std::optional<ChannelDoc>& current, const std::string& name,
                        UnixSeconds now, uint64_t lifetime);

struct ExportReport {
  uint64_t copied_files = 0, copied_bytes = 0;  // written into the copy
  uint64_t kept_files = 0;                      // already there with the right bytes
};

/// Makes `out` a self-contained copy of channel NAME in `dir` for an
/// air-gapped site: the channel file as it is (still signed), the bundle it
/// names, the head and every chunk of the head's index, and the marker.
/// Every file is checked (sha256) against what names it before it is
/// copied; files already in `out` with the right bytes are kept; each is
/// written under a temporary name and renamed, the channel file and the
/// marker last, so a half-made copy never looks complete.
Result<ExportReport> export_channel(const std::filesystem::path& dir, const std::string& name,
                                    const std::filesystem::path& out);

}  // namespace ef::channel
