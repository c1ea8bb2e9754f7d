// The agent layer: what the builder adds to every image after all other
// layers (unless spec.agent.enabled is false), per the builder/agent
// contract (docs/agent.md, "In the image"):
//   /usr/bin/edgeforge-agent, /usr/lib/edgeforge/lib/*.so* (private
//   libraries), /etc/edgeforge/agent.json, /etc/edgeforge/keyring/<keyid>.pub
//   (+ revoked), the edgeforge-boot and edgeforge-install units with their
//   multi-user.target.wants links, and /usr/lib/edgeforge/boot/edgeforge.cpio
//   (the image's initramfs addition, built from the tree's own kernel
//   modules, the same bytes the ESP and the installer ISO carry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/agent_layer/agent_files.hpp"
#include "builder/node/content.hpp"
#include "builder/profile/profile.hpp"
#include "builder/tree/tree.hpp"
#include "iso/kernel_files.hpp"
#include "util/error.hpp"

namespace ef::agent_layer {

inline constexpr const char* kAgentPath = "/usr/bin/edgeforge-agent";
inline constexpr const char* kConfigPath = "/etc/edgeforge/agent.json";
inline constexpr const char* kKeyringDir = "/etc/edgeforge/keyring";
inline constexpr const char* kCpioPath = iso::kImageCpioPath;  // the boot media read it there

/// A public key trusted by the image: its key ID and PEM text.
struct TrustedKeyPem {
  std::string key_id;
  std::string pem;
};

struct AgentLayerSpec {
  AgentFiles files;
  std::vector<TrustedKeyPem> sign_keys;       // the build's --sign-key public halves
  std::vector<std::string> default_units;     // health units when the profile sets none
  std::vector<std::string> persistent_paths;  // for the initramfs addition
  int64_t epoch = 0;
  /// spec.secureBoot: edgeforge-verity-open's bytes for the initramfs
  /// addition (build_image_initramfs); empty without verified boot.
  std::string verity_open;
};

/// What the layer added: the content applied to the tree and the build
/// manifest's records (one input record per file, plus a summary).
struct AgentLayer {
  node::Content content;
  nlohmann::json inputs = nlohmann::json::array();
  nlohmann::json record;
};

/// The canonical text of /etc/edgeforge/agent.json for `profile`.
Result<std::string> agent_config(const profile::Profile& profile,
                                 const std::vector<std::string>& default_units);

/// One unit file of the agent and the target whose .wants/ enables it
/// ("" for a unit another one starts).
struct AgentUnit {
  std::string name;
  std::string text;
  std::string wanted_by;
};
/// The agent's systemd units for `agent` (the watch timer's interval and
/// jitter come from spec.agent.updates).
std::vector<AgentUnit> agent_units(const profile::AgentSettings& agent);

/// Where spec.agent.updates.keyring goes: the keys trusted to sign channels.
inline constexpr const char* kChannelKeyringDir = "/etc/edgeforge/channel-keyring";

/// Builds the layer for `profile` from the composed `tree` (its kernel
/// modules feed the initramfs addition; an image without a kernel gets
/// none). Errors: unreadable keyring files, a key file that is not a public
/// key, a kernel whose modules.dep lacks a boot module.
Result<AgentLayer> make_agent_layer(const profile::Profile& profile, const tree::Tree& tree,
                                    const AgentLayerSpec& spec);

}  // namespace ef::agent_layer
