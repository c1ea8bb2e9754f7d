#include "agent/config.hpp"

#include <nlohmann/json.hpp>

#include "device/slot_state.hpp"
#include "util/atomic_file.hpp"
#include "util/json_fields.hpp"
#include "util/semver.hpp"

namespace ef::agent {
namespace {

using nlohmann::json;

// Reads one key with a type check, so a wrong config names the key instead
// of surfacing a json exception.
template <typename T>
Result<void> get(const json& j, const char* key, T& out, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return Error(Errc::invalid_argument, std::string("missing key \"") + key + "\"");
    return {};
  }
  try {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      out = json_integer<T>(*it);
    else
      out = it->get<T>();
  } catch (const json::exception&) {
    return Error(Errc::invalid_argument, std::string("key \"") + key + "\" has the wrong type");
  }
  return {};
}

Result<HealthConfig> parse_health(const json& j) {
  HealthConfig h;
  if (!j.is_object()) return Error(Errc::invalid_argument, "\"health\" must be an object");
  EF_TRY(get(j, "units", h.units, false));
  EF_TRY(get(j, "timeoutSeconds", h.timeout_seconds, false));
  if (h.timeout_seconds <= 0) {
    return Error(Errc::invalid_argument, "health.timeoutSeconds must be positive");
  }
  if (auto it = j.find("commands"); it != j.end()) {
    if (!it->is_array()) return Error(Errc::invalid_argument, "health.commands must be a list");
    for (const json& c : *it) {
      if (!c.is_object()) {
        return Error(Errc::invalid_argument, "health.commands entries must be objects");
      }
      HealthCommand cmd;
      EF_TRY(get(c, "run", cmd.run, true));
      EF_TRY(get(c, "timeoutSeconds", cmd.timeout_seconds, false));
      if (cmd.run.empty() || cmd.timeout_seconds <= 0) {
        return Error(Errc::invalid_argument,
                     "health.commands entries need a command and a positive timeoutSeconds");
      }
      h.commands.push_back(std::move(cmd));
    }
  }
  return h;
}

Result<AgentConfig> parse_config(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_argument, "not a JSON object");
  AgentConfig c;
  EF_TRY(get(j, "product", c.product, true));
  EF_TRY(get(j, "compatible", c.compatible, true));
  EF_TRY(get(j, "version", c.version, true));
  if (!SemVer::parse(c.version)) {
    return Error(Errc::invalid_argument, "\"version\" is not a semantic version: " + c.version);
  }
  std::string keyring;
  EF_TRY(get(j, "keyring", keyring, false));
  if (!keyring.empty()) c.keyring = keyring;
  EF_TRY(get(j, "tries", c.tries, false));
  if (c.tries < 1 || c.tries > device::kMaxSlotTries) {
    return Error(Errc::invalid_argument,
                 "\"tries\" must be 1.." + std::to_string(device::kMaxSlotTries));
  }
  if (auto it = j.find("health"); it != j.end()) {
    EF_ASSIGN(c.health, parse_health(*it));
  }
  return c;
}

}  // namespace

Result<AgentConfig> load_config(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) {
    return Error(Errc::not_found, path.string() +
                                      ": agent configuration missing; images built by "
                                      "edgeforge carry it (spec.agent), or pass --config");
  }
  auto c = parse_config(*text);
  if (!c) {
    return Error(c.error().code(), path.string() + ": " + c.error().message() +
                                       "; rebuild the image or fix the file");
  }
  return c;
}

}  // namespace ef::agent
