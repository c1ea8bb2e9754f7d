// The agent layer inside `edgeforge build` (internal to the build module):
// find and check the agent's host files early, so a missing binary fails
// before the base is built, then add the layer after every other layer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "builder/agent_layer/agent_files.hpp"
#include "builder/agent_layer/agent_layer.hpp"
#include "builder/build/build.hpp"
#include "builder/build/release.hpp"
#include "builder/cluster/node_layer.hpp"
#include "builder/profile/profile.hpp"
#include "builder/tree/tree.hpp"
#include "util/error.hpp"

namespace ef::build {

/// What the agent layer needs from the build host, gathered before anything
/// slow runs.
struct PreparedAgent {
  agent_layer::AgentFiles files;
  std::vector<agent_layer::TrustedKeyPem> sign_keys;  // public halves of --sign-key
  std::string verity_open;  // spec.secureBoot: edgeforge-verity-open, found beside the agent
};

/// The agent's files and the public halves of `keys` (--sign-key) for `profile`, or
/// nullopt when spec.agent.enabled is false. The binary is found as
/// agent_layer::find_agent_binary says, with options.agent_binary,
/// $EDGEFORGE_AGENT and /proc/self/exe.
Result<std::optional<PreparedAgent>> prepare_agent(const profile::Profile& profile,
                                                   const BuildOptions& options,
                                                   const SigningKeys& keys);

/// Adds the agent layer to `tree`. `default_units`: the health units used
/// when the profile names none. Appends one record per added file to
/// `inputs` and returns the manifest's "agent" summary.
Result<nlohmann::json> apply_agent_layer(tree::Tree& tree, const profile::Profile& profile,
                                         PreparedAgent agent,
                                         const std::vector<std::string>& default_units,
                                         int64_t epoch, nlohmann::json& inputs);

/// The first unit the Kubernetes layer enables (k3s.service,
/// k3s-agent.service, kubelet.service); empty without spec.kubernetes.
std::vector<std::string> default_health_units(const cluster::NodeLayer& node_layer);

}  // namespace ef::build
