// One option vocabulary for every edgeforge command: the same word, short
// form and help for the same thing everywhere (-p profile, -o output, -k
// signing key, -q, --json, the cache options).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "builder/fetch/cache.hpp"
#include "signing/keys.hpp"
#include "util/error.hpp"
#include "util/oci_registry.hpp"

namespace ef::cli {

/// How a command prints its result: --json (one JSON document on stdout)
/// and -q,--quiet (errors only).
struct OutputStyle {
  bool json = false;
  bool quiet = false;
};

/// Adds -q,--quiet and --json (what --json prints is `json_help`).
void add_output_style(CLI::App* cmd, OutputStyle& style,
                      const std::string& json_help = "Print a machine-readable result on stdout");

/// Adds the required -p,--profile FILE.
CLI::Option* add_profile_option(CLI::App* cmd, std::string& profile);

/// Adds -o,--output PATH; `help` says what is written there and the default.
CLI::Option* add_output_option(CLI::App* cmd, std::string& output, const std::string& help);

/// The download cache, offline mode and the artifact mirror.
struct CacheArgs {
  std::string dir;
  bool offline = false;
  std::string artifact_mirror;
};

/// Adds --cache-dir and --offline, and --artifact-mirror when `mirror`.
void add_cache_options(CLI::App* cmd, CacheArgs& cache, bool mirror);

/// The cache options a command line asked for (default directory filled in).
fetch::CacheOptions cache_options(const CacheArgs& cache);

/// Signing keys and how to unlock them.
struct SignArgs {
  std::vector<std::string> keys;
  signing::Passphrase passphrase;
};

/// Adds -k,--sign-key KEY (repeatable; --key is kept as an alias) and the
/// passphrase options; `help` says what signing the command does.
CLI::Option* add_sign_key_options(CLI::App* cmd, SignArgs& sign, const std::string& help);

/// Adds --passphrase-file / --passphrase-env (never a value on the command line).
void add_passphrase_options(CLI::App* cmd, signing::Passphrase& passphrase);

/// How to reach an OCI registry: TLS, and the login.
struct RegistryArgs {
  bool plain_http = false;
  std::string username, password_env, ca_file, docker_config;
};

/// Adds --plain-http, --username, --password-env, --docker-config, --ca-file.
void add_registry_options(CLI::App* cmd, RegistryArgs& registry);

/// A client for the repository of `reference` (oci://HOST[:PORT]/REPO[:TAG])
/// with the login the options name (else the Docker config's).
Result<std::unique_ptr<OciRegistry>> open_registry(const std::string& reference,
                                                   const RegistryArgs& args);

}  // namespace ef::cli
