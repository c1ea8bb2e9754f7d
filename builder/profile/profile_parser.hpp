// One profile file parsed on its own, before `extends` are merged: every
// field is optional because a parent or a child may provide it. Internal to
// ef_profile.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "builder/profile/profile.hpp"
#include "util/error.hpp"

namespace ef::profile::detail {

/// A value and where it was declared, for errors found after merging.
template <typename T>
struct Located {
  T value;
  SourceLoc loc;
};

struct ExtendsRef {
  std::filesystem::path path;  // absolute, lexically normal
  SourceLoc loc;
};

/// spec.agent as one file gives it: scalars later-wins, keyring and revoked
/// appended across extends, health.units and health.commands replaced.
struct PartialAgent {
  std::optional<bool> enabled;
  std::optional<int> tries;
  std::vector<std::filesystem::path> keyring;
  std::vector<std::string> revoked;
  std::optional<int> health_timeout_seconds;
  std::optional<std::vector<std::string>> health_units;
  std::optional<std::vector<AgentHealthCommand>> health_commands;
  std::optional<std::chrono::seconds> update_interval;
  std::optional<std::chrono::seconds> update_jitter;
  std::vector<std::filesystem::path> channel_keyring;
  std::vector<std::filesystem::path> rollout_keyring;
};

struct PartialProfile {
  std::filesystem::path file;  // absolute, lexically normal
  SourceLoc root_loc;          // the document, for "missing" errors
  SourceLoc metadata_loc;      // metadata mapping, or the document
  SourceLoc spec_loc;          // spec mapping, or the document
  std::vector<ExtendsRef> extends;
  std::optional<std::string> name;
  std::optional<std::string> version;
  std::optional<int64_t> epoch;
  std::optional<Base> base;
  std::vector<Layer> layers;
  std::optional<Located<std::string>> compression;
  std::optional<Located<int>> level;  // checked against the merged compression
  std::optional<uint32_t> block_size;
  std::optional<std::string> bundle_compatible;
  std::optional<Located<std::string>> bundle_min_version;  // checked against the merged version
  std::optional<Kubernetes> kubernetes;
  std::vector<PackRef> packs;
  std::optional<std::filesystem::path> site;
  std::optional<std::string> artifact_mirror;
  std::optional<Located<std::vector<std::string>>> formats;
  std::optional<uint64_t> esp_mib, slot_mib, persistent_mib;
  std::vector<std::string> persistent_paths;  // appended across extends
  PartialAgent agent;
  std::optional<std::filesystem::path> installer_site;
  std::optional<SecureBoot> secure_boot;
};

class SchemaNode;
/// Parses spec.kubernetes, spec.packs, spec.site and spec.artifactMirror
/// (cluster_parser.cpp).
Result<void> parse_cluster_keys(const SchemaNode& spec, const std::filesystem::path& dir,
                                PartialProfile& out);

/// Parses spec.agent (agent_parser.cpp).
Result<void> parse_agent(const SchemaNode& agent, const std::filesystem::path& dir,
                         PartialAgent& out);

/// Parses and validates the profile `file` whose content is `text`. Relative
/// paths resolve against the file's directory; local inputs must exist.
Result<PartialProfile> parse_profile(const std::filesystem::path& file, const std::string& text);

}  // namespace ef::profile::detail
