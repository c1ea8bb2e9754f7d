#include "cli/options.hpp"

#include <cstdlib>
#include <memory>

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

void add_registry_options(CLI::App* cmd, RegistryArgs& r) {
  cmd->add_flag("--plain-http", r.plain_http,
                "Talk HTTP, not HTTPS, to the registry (always so for localhost and 127.0.0.0/8)");
  cmd->add_option("--username", r.username,
                  "Registry user (default: the login in the Docker config for that registry)");
  cmd->add_option("--password-env", r.password_env,
                  "Environment variable holding the registry password or token");
  cmd->add_option("--docker-config", r.docker_config,
                  "Docker config.json with registry logins (default: $DOCKER_CONFIG/config.json, "
                  "else ~/.docker/config.json)");
  cmd->add_option("--ca-file", r.ca_file, "CA bundle (PEM) to trust for the registry's TLS");
}

Result<std::unique_ptr<OciRegistry>> open_registry(const std::string& reference,
                                                   const RegistryArgs& a) {
  EF_ASSIGN(auto ref, parse_oci_reference(reference, a.plain_http));
  OciCredentials creds;
  if (!a.username.empty()) {
    const char* pw = a.password_env.empty() ? nullptr : std::getenv(a.password_env.c_str());
    if (!a.password_env.empty() && pw == nullptr)
      return Error(Errc::invalid_argument,
                   "--password-env " + a.password_env + ": the variable is not set");
    creds = {a.username, pw ? pw : ""};
  } else {
    auto config =
        a.docker_config.empty() ? default_docker_config() : std::filesystem::path(a.docker_config);
    EF_ASSIGN(creds, docker_config_credentials(ref.registry, config));
  }
  HttpStreamOptions http;
  http.ca_file = a.ca_file;
  return std::make_unique<OciRegistry>(ref, creds, http);
}

}  // namespace ef::cli
