// site.yaml -> Site. Strict: unknown keys are errors, so a typo in a site
// file fails at build or install time instead of silently doing nothing.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

#include "device/site.hpp"

namespace ef::site {

namespace {

class Reader {
 public:
  explicit Reader(std::string label) : label_(std::move(label)) {}

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

 private:
  std::string label_;
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

Result<Site> parse_root(const Reader& r, const YAML::Node& root) {
  EF_TRY(r.keys(root, "",
                {"apiVersion", "kind", "hostname", "users", "network", "ntp", "caCertificates",
                 "proxy", "registries", "registration", "tags", "install"}));
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
    EF_TRY(r.keys(n, "registration", {"endpoint", "token"}));
    if (n["endpoint"]) {
      EF_ASSIGN(s.registration_endpoint, r.str(n["endpoint"], "registration.endpoint"));
    }
    if (n["token"]) {
      EF_ASSIGN(s.registration_token, r.str(n["token"], "registration.token"));
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
  return s;
}

}  // namespace

Result<Site> parse_site(const std::string& text, const std::string& label) {
  Reader r(label);
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
