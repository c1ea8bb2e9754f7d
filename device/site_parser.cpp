// site.yaml -> Site. Strict: unknown keys are errors, so a typo in a site
// file fails at build or install time instead of silently doing nothing.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <regex>

#include "device/site.hpp"
#include "util/duration.hpp"
#include "util/utf8.hpp"

namespace ef::site {

namespace {

class Reader {
 public:
  Reader(std::string label, std::filesystem::path zoneinfo_dir)
      : label_(std::move(label)), zoneinfo_dir_(std::move(zoneinfo_dir)) {}

  const std::filesystem::path& zoneinfo_dir() const { return zoneinfo_dir_; }

  Error error(const YAML::Node& n, const std::string& key, const std::string& what) const {
    std::string where = label_;
    if (n.IsDefined() && !n.Mark().is_null())
      where += ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
    return Error(Errc::invalid_profile, where + ": " + key + ": " + what);
  }

  Result<void> keys(const YAML::Node& n, const std::string& key,
                    std::initializer_list<const char*> allowed) const {
    if (!n.IsMap()) return error(n, key, "expected a mapping");
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
        return error(kv.first, key.empty() ? k : key + "." + k, "unknown key");
    }
    return Ok{};
  }

  Result<std::string> str(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) return error(n, key, "expected a string");
    return n.Scalar();
  }

  Result<std::vector<std::string>> strs(const YAML::Node& n, const std::string& key) const {
    if (!n.IsSequence()) return error(n, key, "expected a list of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < n.size(); ++i) {
      EF_ASSIGN(auto s, str(n[i], key + "[" + std::to_string(i) + "]"));
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<bool> boolean(const YAML::Node& n, const std::string& key) const {
    EF_ASSIGN(auto s, str(n, key));
    if (s == "true") return true;
    if (s == "false") return false;
    return error(n, key, "expected true or false");
  }

  Result<std::chrono::seconds> duration(const YAML::Node& n, const std::string& key) const {
    EF_ASSIGN(auto s, str(n, key));
    auto d = parse_duration(s);
    if (!d) return error(n, key, d.error().message());
    return *d;
  }

 private:
  std::string label_;
  std::filesystem::path zoneinfo_dir_;
};

Result<User> parse_user(const Reader& r, const YAML::Node& n, const std::string& key) {
  EF_TRY(r.keys(n, key, {"name", "gecos", "shell", "groups", "passwordHash", "sshAuthorizedKeys"}));
  User u;
  if (!n["name"]) return r.error(n, key, "name is required");
  EF_ASSIGN(u.name, r.str(n["name"], key + ".name"));
  static const std::regex name_re("[a-z_][a-z0-9_-]{0,31}");
  if (!std::regex_match(u.name, name_re))
    return r.error(n["name"], key + ".name", "expected a user name like ops");
  if (n["gecos"]) {
    EF_ASSIGN(u.gecos, r.str(n["gecos"], key + ".gecos"));
  }
  if (n["shell"]) {
    EF_ASSIGN(u.shell, r.str(n["shell"], key + ".shell"));
  }
  if (n["groups"]) {
    EF_ASSIGN(u.groups, r.strs(n["groups"], key + ".groups"));
  }
  if (n["passwordHash"]) {
    EF_ASSIGN(u.password_hash, r.str(n["passwordHash"], key + ".passwordHash"));
    // Never echo the value: it is a secret.
    if (u.password_hash.empty() || u.password_hash[0] != '$')
      return r.error(
          n["passwordHash"], key + ".passwordHash",
          "expected a crypt(3) hash ($6$..., $y$...; e.g. from mkpasswd), not a password");
  }
  if (n["sshAuthorizedKeys"]) {
    EF_ASSIGN(u.ssh_authorized_keys, r.strs(n["sshAuthorizedKeys"], key + ".sshAuthorizedKeys"));
  }
  return u;
}

Result<Interface> parse_interface(const Reader& r, const YAML::Node& n, const std::string& key) {
  EF_TRY(r.keys(n, key, {"name", "dhcp", "addresses", "gateway", "dns"}));
  Interface i;
  if (!n["name"]) return r.error(n, key, "name is required");
  EF_ASSIGN(i.name, r.str(n["name"], key + ".name"));
  if (n["dhcp"]) {
    EF_ASSIGN(i.dhcp, r.boolean(n["dhcp"], key + ".dhcp"));
  }
  if (n["addresses"]) {
    EF_ASSIGN(i.addresses, r.strs(n["addresses"], key + ".addresses"));
  }
  if (n["gateway"]) {
    EF_ASSIGN(i.gateway, r.str(n["gateway"], key + ".gateway"));
  }
  if (n["dns"]) {
    EF_ASSIGN(i.dns, r.strs(n["dns"], key + ".dns"));
  }
  static const std::regex cidr("[0-9a-fA-F:.]+/[0-9]{1,3}");
  for (const auto& a : i.addresses)
    if (!std::regex_match(a, cidr))
      return r.error(n["addresses"], key + ".addresses", "'" + a + "' is not an address/prefix");
  if (!i.dhcp && i.addresses.empty()) return r.error(n, key, "set dhcp: true or give addresses");
  return i;
}

Result<void> parse_registries(const Reader& r, const YAML::Node& n, Site& s) {
  EF_TRY(r.keys(n, "registries", {"mirrors", "auth"}));
  if (auto m = n["mirrors"]) {
    if (!m.IsMap())
      return r.error(m, "registries.mirrors", "expected a mapping of registry host to endpoints");
    for (const auto& kv : m) {
      RegistryMirror mirror;
      mirror.host = kv.first.Scalar();
      EF_ASSIGN(mirror.endpoints, r.strs(kv.second, "registries.mirrors." + mirror.host));
      s.mirrors.push_back(std::move(mirror));
    }
  }
  if (auto a = n["auth"]) {
    if (!a.IsMap())
      return r.error(a, "registries.auth", "expected a mapping of registry host to credentials");
    for (const auto& kv : a) {
      RegistryAuth auth;
      auth.host = kv.first.Scalar();
      std::string key = "registries.auth." + auth.host;
      EF_TRY(r.keys(kv.second, key, {"username", "password", "insecureSkipVerify"}));
      if (kv.second["username"]) {
        EF_ASSIGN(auth.username, r.str(kv.second["username"], key + ".username"));
      }
      if (kv.second["password"]) {
        EF_ASSIGN(auth.password, r.str(kv.second["password"], key + ".password"));
      }
      if (kv.second["insecureSkipVerify"]) {
        EF_ASSIGN(auth.insecure_skip_verify,
                  r.boolean(kv.second["insecureSkipVerify"], key + ".insecureSkipVerify"));
      }
      s.registry_auth.push_back(std::move(auth));
    }
  }
  return Ok{};
}

Result<InstallSettings> parse_install(const Reader& r, const YAML::Node& n) {
  EF_TRY(r.keys(n, "install", {"unattended", "target", "wipe", "then"}));
  InstallSettings s;
  if (n["unattended"]) {
    EF_ASSIGN(s.unattended, r.boolean(n["unattended"], "install.unattended"));
  }
  if (n["target"]) {
    EF_ASSIGN(s.target, r.str(n["target"], "install.target"));
    if (s.target != "auto" && !s.target.starts_with("/dev/"))
      return r.error(n["target"], "install.target", "expected a device path (/dev/...) or auto");
  }
  if (n["wipe"]) {
    EF_ASSIGN(s.wipe, r.boolean(n["wipe"], "install.wipe"));
  }
  if (n["then"]) {
    EF_ASSIGN(s.then, r.str(n["then"], "install.then"));
    if (s.then != "reboot" && s.then != "poweroff" && s.then != "none")
      return r.error(n["then"], "install.then", "expected reboot, poweroff or none");
  }
  if (s.unattended && s.target.empty())
    return r.error(n, "install.target", "an unattended install needs a target (a device or auto)");
  return s;
}

// "HH:MM", 00:00 to 23:59, as minutes since midnight.
Result<std::chrono::minutes> time_of_day(const Reader& r, const YAML::Node& n,
                                         const std::string& key) {
  EF_ASSIGN(auto s, r.str(n, key));
  static const std::regex hhmm("([01][0-9]|2[0-3]):([0-5][0-9])");
  std::smatch m;
  if (!std::regex_match(s, m, hhmm))
    return r.error(n, key, "'" + s + "' is not a time of day HH:MM from 00:00 to 23:59");
  return std::chrono::hours(std::stoi(m[1])) + std::chrono::minutes(std::stoi(m[2]));
}

Result<device::MaintenanceWindow> parse_window(const Reader& r, const YAML::Node& n) {
  EF_TRY(r.keys(n, "updates.window", {"days", "start", "end", "timezone"}));
  device::MaintenanceWindow w;
  if (auto list = n["days"]) {
    // Indexed like std::chrono::weekday::c_encoding().
    static constexpr std::array<const char*, 7> kDays{"sun", "mon", "tue", "wed",
                                                      "thu", "fri", "sat"};
    EF_ASSIGN(auto names, r.strs(list, "updates.window.days"));
    if (names.empty()) return r.error(list, "updates.window.days", "list at least one day");
    w.days.reset();
    for (size_t i = 0; i < names.size(); ++i) {
      std::string key = "updates.window.days[" + std::to_string(i) + "]";
      auto it = std::find(kDays.begin(), kDays.end(), names[i]);
      if (it == kDays.end())
        return r.error(list[i], key,
                       "unknown day '" + names[i] + "' (mon tue wed thu fri sat sun)");
      auto day = static_cast<size_t>(it - kDays.begin());
      if (w.days.test(day)) return r.error(list[i], key, "'" + names[i] + "' is listed twice");
      w.days.set(day);
    }
  }
  if (n["start"].IsDefined() != n["end"].IsDefined())
    return r.error(n, "updates.window", "give both start and end, or neither (the whole day)");
  if (n["start"]) {
    EF_ASSIGN(w.start, time_of_day(r, n["start"], "updates.window.start"));
    EF_ASSIGN(w.end, time_of_day(r, n["end"], "updates.window.end"));
  }
  if (auto tz = n["timezone"]) {
    EF_ASSIGN(auto name, r.str(tz, "updates.window.timezone"));
    auto zone = TimeZone::load(name, r.zoneinfo_dir());
    if (!zone) return r.error(tz, "updates.window.timezone", zone.error().message());
    w.zone = *zone;
  }
  return w;
}

Result<UpdateSettings> parse_updates(const Reader& r, const YAML::Node& n) {
  EF_TRY(r.keys(n, "updates", {"channel", "interval", "jitter", "reboot", "window"}));
  UpdateSettings u;
  if (n["channel"]) {
    EF_ASSIGN(u.channel, r.str(n["channel"], "updates.channel"));
    static const std::regex url("https?://[^/?#\\s]+([/?#]\\S*)?");
    static const std::regex oci("oci://[^/?#\\s]+/[^?#\\s]+:[A-Za-z0-9_][A-Za-z0-9._-]*");
    if (!std::regex_match(u.channel, url) && !std::regex_match(u.channel, oci) &&
        !u.channel.starts_with("/"))
      return r.error(n["channel"], "updates.channel",
                     "expected an http:// or https:// URL, oci://HOST/REPO:CHANNEL or an "
                     "absolute file path");
  }
  if (n["interval"]) {
    EF_ASSIGN(u.interval, r.duration(n["interval"], "updates.interval"));
    if (u.interval->count() == 0)
      return r.error(n["interval"], "updates.interval", "the poll interval must be above 0s");
  }
  if (n["jitter"]) {
    EF_ASSIGN(u.jitter, r.duration(n["jitter"], "updates.jitter"));
  }
  if (n["reboot"]) {
    EF_ASSIGN(auto reboot, r.str(n["reboot"], "updates.reboot"));
    if (reboot == "immediate")
      u.reboot = RebootPolicy::immediate;
    else if (reboot == "window")
      u.reboot = RebootPolicy::window;
    else if (reboot == "manual")
      u.reboot = RebootPolicy::manual;
    else
      return r.error(n["reboot"], "updates.reboot",
                     "unknown policy '" + reboot + "' (immediate, window or manual)");
  }
  if (n["window"]) {
    EF_ASSIGN(u.window, parse_window(r, n["window"]));
  }
  return u;
}

Result<Site> parse_root(const Reader& r, const YAML::Node& root) {
  EF_TRY(r.keys(root, "",
                {"apiVersion", "kind", "hostname", "users", "network", "ntp", "caCertificates",
                 "proxy", "registries", "registration", "tags", "install", "updates"}));
  if (root["apiVersion"] && root["apiVersion"].Scalar() != "edgeforge.dev/v1alpha1")
    return r.error(root["apiVersion"], "apiVersion", "expected edgeforge.dev/v1alpha1");
  if (root["kind"] && root["kind"].Scalar() != "Site")
    return r.error(root["kind"], "kind", "expected Site");
  Site s;
  if (auto n = root["hostname"]) {
    EF_ASSIGN(s.hostname, r.str(n, "hostname"));
    static const std::regex host_re(
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*");
    if (!std::regex_match(s.hostname, host_re))
      return r.error(n, "hostname", "not a valid host name");
  }
  if (auto n = root["users"]) {
    if (!n.IsSequence()) return r.error(n, "users", "expected a list");
    for (size_t i = 0; i < n.size(); ++i) {
      EF_ASSIGN(auto u, parse_user(r, n[i], "users[" + std::to_string(i) + "]"));
      s.users.push_back(std::move(u));
    }
  }
  if (auto n = root["network"]) {
    EF_TRY(r.keys(n, "network", {"interfaces"}));
    if (auto list = n["interfaces"]) {
      if (!list.IsSequence()) return r.error(list, "network.interfaces", "expected a list");
      for (size_t i = 0; i < list.size(); ++i) {
        EF_ASSIGN(auto iface,
                  parse_interface(r, list[i], "network.interfaces[" + std::to_string(i) + "]"));
        s.interfaces.push_back(std::move(iface));
      }
    }
  }
  if (auto n = root["ntp"]) {
    EF_ASSIGN(s.ntp, r.strs(n, "ntp"));
  }
  if (auto n = root["caCertificates"]) {
    EF_ASSIGN(s.ca_certificates, r.strs(n, "caCertificates"));
    for (const auto& pem : s.ca_certificates)
      if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return r.error(n, "caCertificates", "each entry must be a PEM certificate");
  }
  if (auto n = root["proxy"]) {
    EF_TRY(r.keys(n, "proxy", {"http", "https", "noProxy"}));
    if (n["http"]) {
      EF_ASSIGN(s.proxy.http, r.str(n["http"], "proxy.http"));
    }
    if (n["https"]) {
      EF_ASSIGN(s.proxy.https, r.str(n["https"], "proxy.https"));
    }
    if (n["noProxy"]) {
      EF_ASSIGN(s.proxy.no_proxy, r.str(n["noProxy"], "proxy.noProxy"));
    }
  }
  if (auto n = root["registries"]) EF_TRY(parse_registries(r, n, s));
  if (auto n = root["registration"]) {
    EF_TRY(r.keys(n, "registration", {"endpoint", "token", "deviceId"}));
    if (n["endpoint"]) {
      EF_ASSIGN(s.registration_endpoint, r.str(n["endpoint"], "registration.endpoint"));
    }
    if (n["token"]) {
      EF_ASSIGN(s.registration_token, r.str(n["token"], "registration.token"));
    }
    if (n["deviceId"]) {
      EF_ASSIGN(s.registration_device_id, r.str(n["deviceId"], "registration.deviceId"));
      if (s.registration_device_id != "machine-id" && s.registration_device_id != "serial")
        return r.error(n["deviceId"], "registration.deviceId",
                       "expected machine-id (/etc/machine-id) or serial (the DMI serial number)");
    }
  }
  if (auto n = root["tags"]) {
    if (!n.IsMap()) return r.error(n, "tags", "expected a mapping of strings");
    for (const auto& kv : n) {
      EF_ASSIGN(auto v, r.str(kv.second, "tags." + kv.first.Scalar()));
      s.tags[kv.first.Scalar()] = v;
    }
  }
  if (auto n = root["install"]) {
    EF_ASSIGN(s.install, parse_install(r, n));
  }
  if (auto n = root["updates"]) {
    EF_ASSIGN(s.updates, parse_updates(r, n));
  }
  return s;
}

}  // namespace

const char* reboot_policy_name(RebootPolicy policy) {
  switch (policy) {
    case RebootPolicy::immediate:
      return "immediate";
    case RebootPolicy::window:
      return "window";
    case RebootPolicy::manual:
      return "manual";
  }
  return "window";
}

Result<Site> parse_site(const std::string& text, const std::string& label,
                        const std::filesystem::path& zoneinfo_dir) {
  Reader r(label, zoneinfo_dir);
  if (auto bad = not_utf8(text)) return Error(Errc::invalid_profile, label + ":" + *bad);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap())
      return Error(Errc::invalid_profile, label + ": a site file is a YAML mapping");
    return parse_root(r, root);
  } catch (const YAML::Exception& e) {
    // yaml-cpp messages quote no values, so nothing secret leaks here.
    std::string where = e.mark.is_null() ? label
                                         : label + ":" + std::to_string(e.mark.line + 1) + ":" +
                                               std::to_string(e.mark.column + 1);
    return Error(Errc::invalid_profile, where + ": YAML syntax error: " + e.msg);
  }
}

}  // namespace ef::site
