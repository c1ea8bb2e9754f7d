// Site -> the files a systemd-based Debian/Ubuntu base reads.
#include <algorithm>
#include <cstdio>

#include "device/site.hpp"
#include "device/watch_timer.hpp"
#include "util/duration.hpp"

namespace ef::site {

namespace {

std::string base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v =
        (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// YAML/TOML double-quoted string (JSON escaping is valid in both).
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string header = "# Rendered by edgeforge from the site configuration.\n";

void add(std::vector<SiteFile>& out, std::string path, std::string content, uint32_t mode = 0644,
         bool secret = false) {
  out.push_back({SiteFile::Kind::file, std::move(path), std::move(content), mode, secret});
}

void render_network(const Site& s, std::vector<SiteFile>& out) {
  int n = 10;
  for (const auto& i : s.interfaces) {
    std::string name = i.name;
    std::replace_if(
        name.begin(), name.end(), [](char c) { return c == '*' || c == '?' || c == '/'; }, '_');
    std::string text = header + "[Match]\nName=" + i.name + "\n\n[Network]\n";
    if (i.dhcp) text += "DHCP=yes\n";
    for (const auto& a : i.addresses) text += "Address=" + a + "\n";
    if (!i.gateway.empty()) text += "Gateway=" + i.gateway + "\n";
    for (const auto& d : i.dns) text += "DNS=" + d + "\n";
    add(out, "/etc/systemd/network/" + std::to_string(n++) + "-edgeforge-" + name + ".network",
        text);
  }
  if (!s.interfaces.empty())
    out.push_back({SiteFile::Kind::symlink,
                   "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
                   "/lib/systemd/system/systemd-networkd.service", 0777, false});
}

void render_users(const Site& s, std::vector<SiteFile>& out) {
  if (s.users.empty()) return;
  // systemd-sysusers creates the accounts on boot (the image's /etc/passwd
  // belongs to the base); keys live under /etc/ssh so no home is needed.
  std::string sysusers = header;
  std::string passwords;
  for (const auto& u : s.users) {
    sysusers += "u " + u.name + " - " + quote(u.gecos.empty() ? u.name : u.gecos) + " /home/" +
                u.name + " " + u.shell + "\n";
    for (const auto& g : u.groups) sysusers += "m " + u.name + " " + g + "\n";
    if (!u.ssh_authorized_keys.empty()) {
      std::string keys;
      for (const auto& k : u.ssh_authorized_keys) keys += k + "\n";
      add(out, "/etc/ssh/authorized_keys/" + u.name, keys);
    }
    if (!u.password_hash.empty()) passwords += u.name + ":" + u.password_hash + "\n";
  }
  add(out, "/etc/sysusers.d/edgeforge-site.conf", sysusers);
  add(out, "/etc/ssh/sshd_config.d/edgeforge-site.conf",
      header + "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys/%u\n");
  if (!passwords.empty()) {
    add(out, "/etc/edgeforge/site/passwords", passwords, 0600, true);
    add(out, "/etc/systemd/system/edgeforge-site-passwords.service",
        "[Unit]\nDescription=Set site user passwords\nAfter=systemd-sysusers.service\n"
        "ConditionPathExists=/etc/edgeforge/site/passwords\n\n[Service]\nType=oneshot\n"
        "ExecStart=/bin/sh -c 'chpasswd -e < /etc/edgeforge/site/passwords'\n\n"
        "[Install]\nWantedBy=multi-user.target\n");
    out.push_back({SiteFile::Kind::symlink,
                   "/etc/systemd/system/multi-user.target.wants/edgeforge-site-passwords.service",
                   "/etc/systemd/system/edgeforge-site-passwords.service", 0777, false});
  }
}

void render_registries(const Site& s, RegistryTarget target, std::vector<SiteFile>& out) {
  if (target == RegistryTarget::none || (s.mirrors.empty() && s.registry_auth.empty())) return;
  bool has_secret = std::any_of(s.registry_auth.begin(), s.registry_auth.end(),
                                [](const RegistryAuth& a) { return !a.password.empty(); });
  if (target == RegistryTarget::k3s) {
    std::string y = header;
    if (!s.mirrors.empty()) {
      y += "mirrors:\n";
      for (const auto& m : s.mirrors) {
        y += "  " + quote(m.host) + ":\n    endpoint:\n";
        for (const auto& e : m.endpoints) y += "      - " + quote(e) + "\n";
      }
    }
    if (!s.registry_auth.empty()) {
      y += "configs:\n";
      for (const auto& a : s.registry_auth) {
        y += "  " + quote(a.host) + ":\n";
        if (!a.username.empty() || !a.password.empty())
          y += "    auth:\n      username: " + quote(a.username) +
               "\n      password: " + quote(a.password) + "\n";
        if (a.insecure_skip_verify) y += "    tls:\n      insecure_skip_verify: true\n";
      }
    }
    add(out, "/etc/rancher/k3s/registries.yaml", y, 0600, has_secret);
    return;
  }
  // containerd: one hosts.toml per registry (config_path = /etc/containerd/certs.d).
  for (const auto& m : s.mirrors) {
    std::string t =
        header + "server = " +
        quote("https://" + (m.host == "docker.io" ? std::string("registry-1.docker.io") : m.host)) +
        "\n";
    bool secret = false;
    for (const auto& e : m.endpoints) {
      t += "\n[host." + quote(e) + "]\n  capabilities = [\"pull\", \"resolve\"]\n";
      std::string host = e.substr(e.find("://") == std::string::npos ? 0 : e.find("://") + 3);
      while (!host.empty() && host.back() == '/') host.pop_back();
      for (const auto& a : s.registry_auth) {
        if (a.host != host) continue;
        if (a.insecure_skip_verify) t += "  skip_verify = true\n";
        if (!a.username.empty() || !a.password.empty()) {
          t += "  [host." + quote(e) + ".header]\n    authorization = " +
               quote("Basic " + base64(a.username + ":" + a.password)) + "\n";
          secret = secret || !a.password.empty();
        }
      }
    }
    add(out, "/etc/containerd/certs.d/" + m.host + "/hosts.toml", t, secret ? 0600 : 0644, secret);
  }
}

}  // namespace

RegistryTarget registry_target_for(std::string_view distribution) {
  if (distribution == "k3s") return RegistryTarget::k3s;
  if (distribution == "none") return RegistryTarget::none;
  return RegistryTarget::containerd;
}

const char* registry_target_name(RegistryTarget target) {
  switch (target) {
    case RegistryTarget::none:
      return "none";
    case RegistryTarget::k3s:
      return "k3s";
    case RegistryTarget::containerd:
      break;
  }
  return "containerd";
}

namespace {

// A YAML double-quoted scalar (site values are names, addresses and globs).
std::string yaml_quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string hh_mm(std::chrono::minutes m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(m.count() / 60),
                static_cast<int>(m.count() % 60));
  return buf;
}

// The site's `updates:` and `tags:` as a site file of their own, which
// `edgeforge-agent watch` reads: the whole site file holds secrets and is
// not in the image when the site was baked in (spec.site).
std::string render_watch_site(const Site& s) {
  std::string t =
      header + "# What edgeforge-agent watch reads: the updates and tags of the site.\n";
  if (s.updates) {
    const UpdateSettings& u = *s.updates;
    t += "updates:\n";
    if (!u.channel.empty()) t += "  channel: " + quote(u.channel) + "\n";
    if (u.interval) t += "  interval: " + format_duration(*u.interval) + "\n";
    if (u.jitter) t += "  jitter: " + format_duration(*u.jitter) + "\n";
    t += std::string("  reboot: ") + reboot_policy_name(u.reboot) + "\n";
    if (u.window) {
      static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
      std::string days;
      for (int d = 1; d <= 7; ++d)  // Monday first, as people write them
        if (u.window->days[d % 7]) days += (days.empty() ? "" : ", ") + std::string(kDays[d % 7]);
      t += "  window:\n    days: [" + days + "]\n    start: \"" + hh_mm(u.window->start) +
           "\"\n    end: \"" + hh_mm(u.window->end) +
           "\"\n    timezone: " + quote(u.window->zone.name()) + "\n";
    }
  }
  if (!s.tags.empty()) {
    t += "tags:\n";
    for (const auto& [k, v] : s.tags) t += "  " + quote(k) + ": " + quote(v) + "\n";
  }
  return t;
}

std::string yaml_list(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + yaml_quote(values[i]);
  return out + "]";
}

}  // namespace

std::string render_netplan(const Site& s) {
  if (s.interfaces.empty()) return "";
  // The same settings as the .network files: match by name (globs allowed),
  // DHCP=yes is both address families.
  std::string y = header + "network:\n  version: 2\n  ethernets:\n";
  int n = 0;
  for (const auto& i : s.interfaces) {
    y += "    edgeforge-" + std::to_string(n++) +
         ":\n      match:\n        name: " + yaml_quote(i.name) + "\n";
    if (i.dhcp) y += "      dhcp4: true\n      dhcp6: true\n";
    if (!i.addresses.empty()) y += "      addresses: " + yaml_list(i.addresses) + "\n";
    if (!i.gateway.empty())
      y += "      routes:\n        - to: default\n          via: " + yaml_quote(i.gateway) + "\n";
    if (!i.dns.empty()) y += "      nameservers:\n        addresses: " + yaml_list(i.dns) + "\n";
  }
  return y;
}

std::vector<SiteFile> render_site(const Site& s, RegistryTarget registries) {
  std::vector<SiteFile> out;
  if (!s.hostname.empty()) {
    add(out, "/etc/hostname", s.hostname + "\n");
    std::string short_name = s.hostname.substr(0, s.hostname.find('.'));
    add(out, "/etc/hosts",
        "127.0.0.1\tlocalhost\n127.0.1.1\t" + s.hostname +
            (short_name != s.hostname ? "\t" + short_name : "") +
            "\n::1\tlocalhost ip6-localhost "
            "ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
  }
  render_users(s, out);
  render_network(s, out);
  if (!s.ntp.empty()) {
    std::string t = header + "[Time]\nNTP=";
    for (size_t i = 0; i < s.ntp.size(); ++i) t += (i ? " " : "") + s.ntp[i];
    add(out, "/etc/systemd/timesyncd.conf.d/edgeforge-site.conf", t + "\n");
  }
  for (size_t i = 0; i < s.ca_certificates.size(); ++i) {
    std::string pem = s.ca_certificates[i];
    if (pem.empty() || pem.back() != '\n') pem += "\n";
    add(out, "/usr/local/share/ca-certificates/edgeforge-site-" + std::to_string(i) + ".crt", pem);
  }
  if (!s.proxy.http.empty() || !s.proxy.https.empty()) {
    std::string env;
    auto var = [&](const char* name, const std::string& v) {
      if (!v.empty()) env += std::string(" ") + quote(std::string(name) + "=" + v);
    };
    var("HTTP_PROXY", s.proxy.http);
    var("HTTPS_PROXY", s.proxy.https);
    var("NO_PROXY", s.proxy.no_proxy);
    var("http_proxy", s.proxy.http);
    var("https_proxy", s.proxy.https);
    var("no_proxy", s.proxy.no_proxy);
    // Every service (containerd, k3s, kubelet) inherits the manager's environment.
    add(out, "/etc/systemd/system.conf.d/edgeforge-proxy.conf",
        header + "[Manager]\nDefaultEnvironment=" + env.substr(1) + "\n");
  }
  render_registries(s, registries, out);
  if (!s.registration_endpoint.empty() || !s.registration_token.empty()) {
    // A site file of its own, so the agent reads it with parse_site.
    add(out, kRegistrationPath,
        header + "registration:\n  endpoint: " + quote(s.registration_endpoint) + "\n  token: " +
            quote(s.registration_token) + "\n  deviceId: " + quote(s.registration_device_id) + "\n",
        0600, !s.registration_token.empty());
  }
  if (s.updates) {
    std::string drop_in = device::watch_timer_drop_in(s.updates->interval, s.updates->jitter);
    if (!drop_in.empty()) add(out, device::kWatchTimerDropIn, header + drop_in);
  }
  if (s.updates || !s.tags.empty()) add(out, kWatchSitePath, render_watch_site(s));
  if (!s.tags.empty()) {
    std::string t = header;
    for (const auto& [k, v] : s.tags) t += quote(k) + ": " + quote(v) + "\n";
    add(out, "/etc/edgeforge/tags.yaml", t);
  }
  std::sort(out.begin(), out.end(),
            [](const SiteFile& a, const SiteFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace ef::site
