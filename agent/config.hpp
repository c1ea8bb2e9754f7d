// The agent's configuration, written by the builder into every image as
// /etc/edgeforge/agent.json (docs/agent.md): what this image is, which keys
// it trusts, how many boots a new slot gets and how its health is judged.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::agent {

inline constexpr const char* kDefaultConfigPath = "/etc/edgeforge/agent.json";

struct HealthCommand {
  std::string run;  // a shell command line (/bin/sh -c)
  int timeout_seconds = 30;
};

struct HealthConfig {
  std::vector<std::string> units;  // systemd units that must become active
  std::vector<HealthCommand> commands;
  int timeout_seconds = 300;  // budget for the units to become active
};

struct AgentConfig {
  std::string product;
  std::string compatible;
  std::string version;  // semver of the image this config came with
  std::filesystem::path keyring = "/etc/edgeforge/keyring";
  int tries = 3;  // boots a new slot gets before GRUB falls back (1..3)
  HealthConfig health;
};

/// Reads and checks `path`. Errors name the file and the key.
Result<AgentConfig> load_config(const std::filesystem::path& path);

}  // namespace ef::agent
