#include "cli/options.hpp"

namespace ef::cli {

void add_output_style(CLI::App* cmd, OutputStyle& style, const std::string& json_help) {
  cmd->add_flag("--json", style.json, json_help);
  cmd->add_flag("-q,--quiet", style.quiet, "Print errors only");
}

CLI::Option* add_profile_option(CLI::App* cmd, std::string& profile) {
  return cmd->add_option("-p,--profile", profile, "Profile YAML file")
      ->required()
      ->check(CLI::ExistingFile);
}

CLI::Option* add_output_option(CLI::App* cmd, std::string& output, const std::string& help) {
  return cmd->add_option("-o,--output", output, help);
}

void add_cache_options(CLI::App* cmd, CacheArgs& cache, bool mirror) {
  cmd->add_option("--cache-dir", cache.dir, "Download cache (default: ~/.cache/edgeforge)");
  cmd->add_flag("--offline", cache.offline, "Use only the cache; report every input it lacks");
  if (mirror) {
    cmd->add_option("--artifact-mirror", cache.artifact_mirror,
                    "Fetch Kubernetes artifacts from this mirror: https://host/path becomes "
                    "URL/host/path (sha256 unchanged; overrides spec.artifactMirror)");
  }
}

fetch::CacheOptions cache_options(const CacheArgs& cache) {
  fetch::CacheOptions o;
  o.dir = cache.dir.empty() ? fetch::default_cache_dir() : std::filesystem::path(cache.dir);
  o.offline = cache.offline;
  return o;
}

CLI::Option* add_sign_key_options(CLI::App* cmd, SignArgs& sign, const std::string& help) {
  auto* opt = cmd->add_option("-k,--sign-key,--key", sign.keys,
                              help +
                                  ": PEM file or provider URI (pkcs11:...); repeat to sign with "
                                  "several keys (key rotation)");
  add_passphrase_options(cmd, sign.passphrase);
  return opt;
}

void add_passphrase_options(CLI::App* cmd, signing::Passphrase& passphrase) {
  auto* file = cmd->add_option("--passphrase-file", passphrase.file,
                               "Read the private key's passphrase from the first line of FILE");
  auto* env = cmd->add_option("--passphrase-env", passphrase.env,
                              "Read the private key's passphrase from environment variable VAR");
  file->excludes(env);
}

}  // namespace ef::cli
