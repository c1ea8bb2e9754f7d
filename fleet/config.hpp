// edgeforge-fleet's configuration file (docs/fleet-api.md): the operators'
// tokens (their sha256, never the tokens) and dashboard password hashes, the
// dashboard's session settings and the request limits.
#pragma once

#include <filesystem>
#include <string>

#include "fleet/api.hpp"
#include "fleet/gates.hpp"
#include "util/error.hpp"

namespace ef::fleet {

/// Parses the YAML at `path`:
///   operators:                     # at least one; each with a token, a password or both
///     - {name: ops, tokenSha256: <64 hex>, passwordHash: <crypt(3) hash>}
///   maxBodyBytes: 65536            # optional
///   sessionSecret: <32+ chars>     # optional; the same on every instance
///   sessionHours: 12               # optional; how long a dashboard log-in lasts
/// Unknown keys and malformed values are Errc::invalid_argument naming
/// FILE:LINE and the key.
Result<ApiConfig> load_config(const std::filesystem::path& path);

/// The channels the service watches and its gate settings, from the same
/// file (load_config checks the rest of it):
///   channels:
///     - location: /srv/channels/stable.json   # or oci://HOST/REPO:NAME
///       keyring: /etc/edgeforge/channel-keyring  # its rollout/ holds rolloutKey's public key
///       rolloutKey: /etc/edgeforge-fleet/rollout.pem
///   gates: {intervalSeconds: 60, stateLifetimeSeconds: 604800}
Result<GateConfig> load_gate_config(const std::filesystem::path& path);

}  // namespace ef::fleet
