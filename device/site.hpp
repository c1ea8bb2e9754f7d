// Site configuration (site.yaml): what differs between the sites that run
// the same image: host name, users, network, NTP, CA certificates, proxy,
// registry mirrors and credentials, registration, tags, and how the device
// takes updates. docs/site-config.md documents the schema.
//
// This library depends on nothing of the image builder so the device agent
// can link it and render the same files at install time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "device/maintenance_window.hpp"
#include "util/error.hpp"

namespace ef::site {

struct User {
  std::string name;
  std::string gecos;
  std::string shell = "/bin/bash";
  std::vector<std::string> groups;
  std::string password_hash;  // crypt(3) hash; secret
  std::vector<std::string> ssh_authorized_keys;
};

struct Interface {
  std::string name;  // interface name or glob (en*), matched by systemd-networkd
  bool dhcp = false;
  std::vector<std::string> addresses;  // CIDR
  std::string gateway;
  std::vector<std::string> dns;
};

struct Proxy {
  std::string http, https, no_proxy;
};

struct RegistryMirror {
  std::string host;                    // docker.io
  std::vector<std::string> endpoints;  // https://mirror.local:5000
};

struct RegistryAuth {
  std::string host;  // mirror.local:5000
  std::string username;
  std::string password;  // secret
  bool insecure_skip_verify = false;
};

/// The `install:` section: what `edgeforge-agent install --auto` does when
/// the installer ISO boots (ignored when a site file is baked into an image).
struct InstallSettings {
  bool unattended = false;      // false: --auto does nothing
  std::string target;           // a device path (/dev/...) or "auto"
  bool wipe = false;            // true: a target holding partitions or data is wiped
  std::string then = "reboot";  // reboot | poweroff | none
};

/// When the device reboots into an installed update.
enum class RebootPolicy {
  immediate,  // as soon as the update is installed
  window,     // in the maintenance window (any time when there is none)
  manual,     // never by itself; an operator reboots
};

/// The `updates:` section: which release channel the device polls, how
/// often, and when it may install and reboot.
struct UpdateSettings {
  std::string channel;                           // http(s) URL or absolute path; empty: none
  std::optional<std::chrono::seconds> interval;  // > 0; nullopt: the agent's default
  std::optional<std::chrono::seconds> jitter;    // nullopt: the agent's default
  RebootPolicy reboot = RebootPolicy::window;
  std::optional<device::MaintenanceWindow> window;  // nullopt: any time
};

/// The site's `updates:` and `tags:` as a site file of their own, rendered
/// with the others; `edgeforge-agent watch` reads it.
inline constexpr const char* kWatchSitePath = "/etc/edgeforge/site-updates.yaml";
/// The site's `registration:` alone, as a site file (0600: the token).
inline constexpr const char* kRegistrationPath = "/etc/edgeforge/registration.yaml";

/// "immediate", "window" or "manual".
const char* reboot_policy_name(RebootPolicy policy);

struct Site {
  std::string hostname;
  std::vector<User> users;
  std::vector<Interface> interfaces;
  std::vector<std::string> ntp;
  std::vector<std::string> ca_certificates;  // PEM text
  Proxy proxy;
  std::vector<RegistryMirror> mirrors;
  std::vector<RegistryAuth> registry_auth;
  std::string registration_endpoint;
  std::string registration_token;                     // secret
  std::string registration_device_id = "machine-id";  // machine-id or serial
  std::map<std::string, std::string> tags;
  std::optional<InstallSettings> install;
  std::optional<UpdateSettings> updates;
};

/// Parses site.yaml text; errors say "label:line:col: key: what is wrong".
/// `updates.window.timezone` is loaded from `zoneinfo_dir`.
Result<Site> parse_site(const std::string& text, const std::string& label,
                        const std::filesystem::path& zoneinfo_dir = "/usr/share/zoneinfo");

/// One file to write on the node.
struct SiteFile {
  enum class Kind { file, symlink };
  Kind kind = Kind::file;
  std::string path;
  std::string content;  // file content, or the symlink target
  uint32_t mode = 0644;
  bool secret = false;  // carries credentials: never log or record its content
};

/// Which container runtime reads registry settings.
enum class RegistryTarget { none, k3s, containerd };

/// The one rule for who reads registry settings: "k3s" -> k3s's
/// registries.yaml, "none" -> nobody, anything else (kubeadm, no
/// distribution, "containerd") -> containerd's certs.d.
RegistryTarget registry_target_for(std::string_view distribution);

/// "none", "k3s" or "containerd": what the install manifest records
/// (siteRegistries), read back with registry_target_for.
const char* registry_target_name(RegistryTarget target);

/// Renders the files a Debian/Ubuntu base uses (systemd-networkd,
/// /etc/hosts, sysusers.d, timesyncd, ...), sorted by path.
std::vector<SiteFile> render_site(const Site& site, RegistryTarget registries);

/// The site's interfaces as a netplan file (for /etc/netplan on a host that
/// netplan manages, where provision.sh must not enable systemd-networkd);
/// empty when the site has no interfaces.
std::string render_netplan(const Site& site);

/// Writes `files` under `root` (install time): parents are created, each
/// file is replaced atomically with its mode, links are replaced.
Result<void> write_site_files(const std::vector<SiteFile>& files,
                              const std::filesystem::path& root);

}  // namespace ef::site
