#include "fleet/config.hpp"

#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>

#include "fleet/session.hpp"

namespace ef::fleet {
namespace {

/// "FILE:LINE:COL: what" for node `n` of the configuration file.
Error located(const std::filesystem::path& path, const YAML::Node& n, const std::string& what) {
  std::string where = path.string();
  if (n.IsDefined() && n.Mark().line >= 0)
    where += ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
  return Error(Errc::invalid_argument, where + ": " + what);
}

Result<YAML::Node> load_yaml(const std::filesystem::path& path) {
  try {
    return YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    return Error(Errc::not_found, path.string() + ": cannot read the configuration file");
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid_argument,
                 path.string() + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
}

}  // namespace

Result<ApiConfig> load_config(const std::filesystem::path& path) {
  auto bad = [&](const YAML::Node& n, const std::string& what) { return located(path, n, what); };
  EF_ASSIGN(YAML::Node root, load_yaml(path));
  if (!root.IsMap())
    return bad(root, "expected a mapping (operators:, maxBodyBytes:, sessionSecret:, ...)");
  ApiConfig config;
  static const std::set<std::string> known = {"operators",    "maxBodyBytes",     "sessionSecret",
                                              "sessionHours", "silentAfterHours", "channels",
                                              "gates"};
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if (!known.count(key))
      return bad(kv.first, "unknown key \"" + key +
                               "\" (operators, maxBodyBytes, sessionSecret, sessionHours, "
                               "silentAfterHours, channels, gates)");
  }
  if (const YAML::Node h = root["silentAfterHours"]) {
    unsigned long long n = 0;
    try {
      n = h.as<unsigned long long>();
    } catch (const YAML::Exception&) {
      return bad(h, "silentAfterHours: a whole number of hours");
    }
    if (n < 1 || n > 24 * 365) return bad(h, "silentAfterHours: from 1 to 8760");
    config.silent_after_seconds = n * 3600;
  }
  const YAML::Node ops = root["operators"];
  if (!ops || !ops.IsSequence() || ops.size() == 0)
    return bad(ops ? ops : root, "operators: give at least one {name, tokenSha256}");
  static const std::regex hex("[0-9a-f]{64}");
  std::set<std::string> names;
  for (size_t i = 0; i < ops.size(); ++i) {
    const YAML::Node op = ops[i];
    std::string where = "operators[" + std::to_string(i) + "]";
    if (!op.IsMap() || !op["name"] || (!op["tokenSha256"] && !op["passwordHash"]))
      return bad(op, where + ": expected {name, tokenSha256} or {name, passwordHash}");
    for (const auto& kv : op) {
      std::string key = kv.first.as<std::string>();
      if (key != "name" && key != "tokenSha256" && key != "passwordHash")
        return bad(kv.first, where + "." + key + ": unknown key (name, tokenSha256, passwordHash)");
    }
    ApiConfig::Operator entry;
    if (op["tokenSha256"]) {
      entry.token_sha256 = op["tokenSha256"].as<std::string>();
      if (!std::regex_match(entry.token_sha256, hex))
        return bad(op["tokenSha256"],
                   where + ".tokenSha256: 64 lower-case hex digits (sha256sum of the token)");
    }
    if (op["passwordHash"]) {
      entry.password_hash = op["passwordHash"].as<std::string>();
      if (auto ok = check_password_hash(entry.password_hash); !ok)
        return bad(op["passwordHash"], where + ".passwordHash: " + ok.error().message());
    }
    entry.name = op["name"].as<std::string>();
    if (entry.name.empty()) return bad(op["name"], where + ".name: empty");
    if (!names.insert(entry.name).second)
      return bad(op["name"], where + ".name: \"" + entry.name + "\" is named twice");
    config.operators.push_back(entry);
  }
  if (const YAML::Node secret = root["sessionSecret"]) {
    config.session_secret = secret.as<std::string>();
    if (config.session_secret.size() < 32)
      return bad(secret, "sessionSecret: at least 32 characters (openssl rand -hex 32)");
  }
  if (const YAML::Node hours = root["sessionHours"]) {
    unsigned long long n = 0;
    try {
      n = hours.as<unsigned long long>();
    } catch (const YAML::Exception&) {
      return bad(hours, "sessionHours: a whole number of hours");
    }
    if (n < 1 || n > 168) return bad(hours, "sessionHours: from 1 to 168");
    config.session_seconds = n * 3600;
  }
  if (const YAML::Node m = root["maxBodyBytes"]) {
    unsigned long long n = 0;
    try {
      n = m.as<unsigned long long>();
    } catch (const YAML::Exception&) {
      return bad(m, "maxBodyBytes: a whole number of bytes");
    }
    if (n < 1024 || n > (16u << 20)) return bad(m, "maxBodyBytes: from 1024 to 16777216");
    config.max_body = static_cast<size_t>(n);
  }
  return config;
}

Result<GateConfig> load_gate_config(const std::filesystem::path& path) {
  auto bad = [&](const YAML::Node& n, const std::string& what) { return located(path, n, what); };
  EF_ASSIGN(YAML::Node root, load_yaml(path));
  GateConfig config;
  auto seconds = [&](const YAML::Node& n, const std::string& key, uint64_t& out) -> Result<void> {
    try {
      out = n.as<uint64_t>();
    } catch (const YAML::Exception&) {
      return bad(n, key + ": a whole number of seconds");
    }
    if (out == 0) return bad(n, key + ": above 0");
    return Ok{};
  };
  if (const YAML::Node g = root["gates"]) {
    if (!g.IsMap()) return bad(g, "gates: {intervalSeconds, stateLifetimeSeconds}");
    for (const auto& kv : g) {
      std::string key = kv.first.as<std::string>();
      if (key == "intervalSeconds")
        EF_TRY(seconds(kv.second, "gates.intervalSeconds", config.interval_seconds));
      else if (key == "stateLifetimeSeconds")
        EF_TRY(seconds(kv.second, "gates.stateLifetimeSeconds", config.state_lifetime_seconds));
      else
        return bad(kv.first,
                   "gates." + key + ": unknown key (intervalSeconds, stateLifetimeSeconds)");
    }
  }
  const YAML::Node list = root["channels"];
  if (!list) return config;
  if (!list.IsSequence()) return bad(list, "channels: a list of {location, keyring, rolloutKey}");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node c = list[i];
    const std::string where = "channels[" + std::to_string(i) + "]";
    if (!c.IsMap() || !c["location"] || !c["keyring"] || !c["rolloutKey"])
      return bad(c, where + ": expected {location, keyring, rolloutKey[, plainHttp]}");
    WatchedChannel w;
    for (const auto& kv : c) {
      std::string key = kv.first.as<std::string>();
      try {
        if (key == "location")
          w.location = kv.second.as<std::string>();
        else if (key == "keyring")
          w.keyring = kv.second.as<std::string>();
        else if (key == "rolloutKey")
          w.rollout_key = kv.second.as<std::string>();
        else if (key == "plainHttp")
          w.plain_http = kv.second.as<bool>();
        else
          return bad(kv.first, where + "." + key +
                                   ": unknown key (location, keyring, rolloutKey, plainHttp)");
      } catch (const YAML::Exception&) {
        return bad(kv.second,
                   where + "." + key + ": " + (key == "plainHttp" ? "true or false" : "a string"));
      }
    }
    config.channels.push_back(std::move(w));
  }
  return config;
}

}  // namespace ef::fleet
