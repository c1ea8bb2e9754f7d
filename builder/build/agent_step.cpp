#include "builder/build/agent_step.hpp"

#include <cstdlib>

#include "builder/build/disk_outputs.hpp"
#include "builder/node/content.hpp"
#include "signing/keys.hpp"
#include "util/atomic_file.hpp"

namespace ef::build {

Result<std::optional<PreparedAgent>> prepare_agent(const profile::Profile& p, const BuildOptions& o,
                                                   const SigningKeys& keys) {
  if (!p.agent.enabled) return std::optional<PreparedAgent>{};
  const char* env = std::getenv("EDGEFORGE_AGENT");
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  EF_ASSIGN(auto binary, agent_layer::find_agent_binary(o.agent_binary, env ? env : "", self));
  PreparedAgent agent;
  auto files = agent_layer::collect_agent_files(binary);
  if (!files) return std::move(files).error().with_context("edgeforge-agent " + binary.string());
  agent.files = std::move(*files);
  for (const auto& key : keys) agent.sign_keys.push_back({key->key_id(), key->public_key().pem()});
  if (p.secure_boot.enabled()) {
    EF_ASSIGN(auto program, agent_layer::find_verity_open(binary));
    EF_ASSIGN(agent.verity_open, read_file(program));
  }
  return std::optional<PreparedAgent>(std::move(agent));
}

std::vector<std::string> default_health_units(const cluster::NodeLayer& node_layer) {
  if (node_layer.enabled_units.empty()) return {};
  return {node_layer.enabled_units.front()};
}

Result<nlohmann::json> apply_agent_layer(tree::Tree& tree, const profile::Profile& p,
                                         PreparedAgent agent,
                                         const std::vector<std::string>& default_units,
                                         int64_t epoch, nlohmann::json& inputs) {
  agent_layer::AgentLayerSpec spec;
  spec.files = std::move(agent.files);
  spec.sign_keys = std::move(agent.sign_keys);
  spec.default_units = default_units;
  spec.persistent_paths = persistent_paths_of(p);
  spec.epoch = epoch;
  spec.verity_open = std::move(agent.verity_open);
  EF_ASSIGN(auto layer, agent_layer::make_agent_layer(p, tree, spec));
  EF_TRY(node::apply_content(tree, layer.content, epoch, "agent layer"));
  for (auto& r : layer.inputs) inputs.push_back(std::move(r));
  return layer.record;
}

}  // namespace ef::build
