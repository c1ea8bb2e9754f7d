#include "builder/node/provision_script.hpp"

#include <map>
#include <set>

#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::node {

namespace fs = std::filesystem;

namespace {

// Single-quoted shell word.
std::string sq(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string octal(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%o", mode & 07777);
  return buf;
}

std::string digest_of(const Entry& e) {
  return e.blob.empty() ? sha256_hex(e.text) : e.sha256;
}

constexpr const char* kNetplanPath = "/etc/netplan/90-edgeforge-site.yaml";

// The helpers compare before they write, so a second run changes nothing.
constexpr const char* kPrologue = R"SH(set -eu

# EF_ROOT installs under another root (tests, chroots); the default is this host.
ROOT="${EF_ROOT:-/}"
ROOT="${ROOT%/}"
HERE="$(cd "$(dirname "$0")" && pwd)"
changes=0
# Commands that change the running system (hostnamectl, systemd-sysusers,
# systemctl, netplan) run only on the live host (EF_ROOT unset or /).
# EF_APPLY=1 runs them under EF_ROOT too, as if systemd were running: tests
# do that with stub commands first on PATH.
apply=0
if [ "$ROOT" = "" ] || [ "${EF_APPLY:-0}" = 1 ]; then apply=1; fi

say() { printf 'edgeforge provision: %s\n' "$*"; }
fail() { printf 'edgeforge provision: error: %s\n' "$*" >&2; exit 1; }
changed() { changes=$((changes + 1)); say "$1"; }
systemd_running() { [ -d /run/systemd/system ] || [ "${EF_APPLY:-0}" = 1 ]; }

# verify FILE SHA256: the file shipped next to this script is the one built.
verify() {
  [ -f "$1" ] || fail "$1 is missing: copy the whole provision folder"
  actual="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$actual" = "$2" ] || fail "$1: sha256 is $actual, expected $2 (corrupt copy?)"
}

ensure_dir() {
  if [ ! -d "$ROOT$1" ]; then
    mkdir -p "$ROOT$1"
    chmod "$2" "$ROOT$1"
    changed "created $1"
  fi
}

# ensure_file SHA256 PATH MODE
ensure_file() {
  src="$HERE/files/$1"
  dst="$ROOT$2"
  if [ -f "$dst" ] && [ ! -L "$dst" ] && [ "$(stat -c %a "$dst")" = "$3" ] &&
    [ "$(sha256sum "$dst" | cut -d' ' -f1)" = "$1" ]; then
    return 0
  fi
  verify "$src" "$1"
  mkdir -p "$(dirname "$dst")"
  cp "$src" "$dst.edgeforge-new"
  chmod "$3" "$dst.edgeforge-new"
  mv -f "$dst.edgeforge-new" "$dst"
  changed "installed $2"
}

# ensure_link TARGET PATH
ensure_link() {
  dst="$ROOT$2"
  if [ -L "$dst" ] && [ "$(readlink "$dst")" = "$1" ]; then
    return 0
  fi
  if [ -d "$dst" ] && [ ! -L "$dst" ]; then
    # Never delete a host directory (e.g. existing CNI plugins in /opt/cni/bin).
    say "warning: kept the directory $2 (the image has a link to $1 there)"
    return 0
  fi
  mkdir -p "$(dirname "$dst")"
  rm -f "$dst"
  ln -s "$1" "$dst"
  changed "linked $2 -> $1"
}
)SH";

constexpr const char* kEnsurePackage = R"SH(
# ensure_package PATH PACKAGE: on the live host, install what the node needs.
ensure_package() {
  [ -e "$ROOT$1" ] && return 0
  if [ "$ROOT" = "" ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$2"
    changed "installed package $2"
  else
    say "warning: $1 is missing (install the $2 package)"
  fi
}
)SH";

// Which service configures the network decides where the site's interfaces
// go: a second network manager next to the host's own can take the host
// off its network.
constexpr const char* kNetworkManager = R"SH(
# network_manager: NetworkManager (left alone), netplan (the site's
# interfaces go into a netplan file) or systemd-networkd.
network_manager() {
  uses=systemd-networkd
  for f in "$ROOT"/etc/netplan/*.yaml; do
    [ -e "$f" ] || continue
    uses=netplan
    if grep -qs '^ *renderer: *NetworkManager' "$f"; then
      uses=NetworkManager
      break
    fi
  done
  if [ "$uses" = systemd-networkd ] &&
    [ -e "$ROOT/etc/systemd/system/multi-user.target.wants/NetworkManager.service" ]; then
    uses=NetworkManager
  fi
  echo "$uses"
}
network="$(network_manager)"
)SH";

constexpr const char* kEpilogue = R"SH(
# On the live host, make the running system match the files, before the
# Kubernetes distribution starts (it registers the node under the host name).
if [ "$apply" = 1 ] && [ "$changes" -gt 0 ]; then
  if systemd_running; then systemctl daemon-reload; fi
  if command -v sysctl >/dev/null 2>&1; then sysctl --system >/dev/null; fi
  for f in "$ROOT"/etc/modules-load.d/*.conf; do
    [ -e "$f" ] || continue
    grep -v '^#' "$f" | while read -r module; do
      if [ -n "$module" ]; then modprobe "$module" || true; fi
    done
  done
  if [ -L "$ROOT/etc/systemd/system/swap.target" ]; then swapoff -a || true; fi
fi
if [ "$apply" = 1 ] && [ -f "$ROOT/etc/hostname" ]; then
  name="$(cat "$ROOT/etc/hostname")"
  if [ -n "$name" ] && [ "$(hostname)" != "$name" ]; then
    if command -v hostnamectl >/dev/null 2>&1; then
      hostnamectl set-hostname "$name"
    else
      hostname "$name"
    fi
    changed "set the host name to $name"
  fi
fi
if [ "$apply" = 1 ] && [ -f "$ROOT/etc/sysusers.d/edgeforge-site.conf" ]; then
  # An earlier run may have stopped after writing the file: check the users too.
  missing="$(awk '$1 == "u" { print $2 }' "$ROOT/etc/sysusers.d/edgeforge-site.conf" |
    while read -r user; do getent passwd "$user" >/dev/null || echo "$user"; done)"
  if [ "$users_changed" = 1 ] || [ -n "$missing" ]; then
    systemd-sysusers
    say "created the site's users (systemd-sysusers)"
  fi
fi
if [ "$apply" = 1 ] && [ "$sshd_changed" = 1 ] && systemd_running; then
  systemctl try-reload-or-restart ssh.service
  say "reloaded sshd"
fi
if [ "$apply" = 1 ] && [ "$network_changed" = 1 ]; then
  case "$network" in
    netplan)
      netplan generate
      netplan apply
      say "applied the network configuration (netplan)"
      ;;
    systemd-networkd)
      if systemd_running && systemctl is-active --quiet systemd-networkd.service; then
        networkctl reload
        say "reloaded systemd-networkd"
      fi
      ;;
  esac
fi
if [ "$apply" = 1 ] && systemd_running; then
  for unit in $units; do
    systemctl is-active --quiet "$unit" || systemctl start "$unit"
  done
fi
say "$changes change(s)"
)SH";

bool is_networkd(const Entry& e) {
  return e.path.rfind("/etc/systemd/network/", 0) == 0 ||
         (e.kind == Entry::Kind::symlink && e.path.size() > 25 &&
          e.path.compare(e.path.size() - 25, 25, "/systemd-networkd.service") == 0);
}

// One line of the script for `e`; `units` collects the units it enables.
std::string entry_line(const Entry& e, std::string& units) {
  switch (e.kind) {
    case Entry::Kind::directory:
      return "ensure_dir " + sq(e.path) + " " + octal(e.mode) + "\n";
    case Entry::Kind::file: {
      std::string line = "ensure_file " + digest_of(e) + " " + sq(e.path) + " " + octal(e.mode);
      // `changes` moves when the file was written: what the epilogue applies.
      if (e.path.rfind("/etc/sysusers.d/", 0) == 0)
        return "n=$changes\n" + line + "\n[ \"$changes\" = \"$n\" ] || users_changed=1\n";
      if (e.path.rfind("/etc/ssh/sshd_config.d/", 0) == 0)
        return "n=$changes\n" + line + "\n[ \"$changes\" = \"$n\" ] || sshd_changed=1\n";
      return line + "\n";
    }
    case Entry::Kind::symlink:
      if (e.path.find(".wants/") != std::string::npos)
        units += " " + e.path.substr(e.path.rfind('/') + 1);
      return "ensure_link " + sq(e.text) + " " + sq(e.path) + "\n";
  }
  return "";
}

}  // namespace

std::string render_provision_script(const Content& content,
                                    const std::vector<HostPackage>& packages,
                                    const std::string& title, const HostNetwork& network) {
  std::string s = "#!/bin/sh\n# " + title +
                  "\n# Generated by edgeforge provision-script. Idempotent: run it again and "
                  "nothing changes.\n# Usage: sudo sh provision.sh   (EF_ROOT=/some/dir installs "
                  "under that root; docs/provision.md says what it changes)\n";
  s += kPrologue;
  if (!packages.empty()) s += kEnsurePackage;
  s += "users_changed=0\nsshd_changed=0\nnetwork_changed=0\nnetwork=none\n\n";
  for (const auto& p : packages) s += "ensure_package " + sq(p.path) + " " + sq(p.package) + "\n";
  // Last entry per path wins, like in the image.
  std::map<std::string, const Entry*> last;
  for (const auto& e : content.entries()) last[e.path] = &e;
  std::string units, networkd, networkd_units;
  for (const auto& e : content.entries()) {
    if (last[e.path] != &e) continue;
    if (is_networkd(e))
      networkd += "    " + entry_line(e, networkd_units);
    else
      s += entry_line(e, units);
  }
  s += "units=" + sq(units.empty() ? "" : units.substr(1)) + "\n";
  if (!networkd.empty() || !network.netplan.empty()) {
    s += kNetworkManager;
    s += "case \"$network\" in\n  NetworkManager)\n    say \"warning: NetworkManager manages "
         "the network here: the site's interfaces were not applied (configure them with "
         "nmcli)\"\n    ;;\n";
    if (!network.netplan.empty())
      s += "  netplan)\n    n=$changes\n    ensure_file " + sha256_hex(network.netplan) + " " +
           sq(kNetplanPath) + " 600\n    [ \"$changes\" = \"$n\" ] || network_changed=1\n    ;;\n";
    if (!networkd.empty()) {
      s += "  systemd-networkd)\n    n=$changes\n";
      s += networkd;
      s += "    [ \"$changes\" = \"$n\" ] || network_changed=1\n";
      if (!networkd_units.empty()) s += "    units=\"$units" + networkd_units + "\"\n";
      s += "    ;;\n";
    }
    s += "esac\n";
  }
  s += kEpilogue;
  return s;
}

Result<ProvisionBundle> write_provision_bundle(const Content& content,
                                               const std::vector<HostPackage>& packages,
                                               const std::string& title, const fs::path& dir,
                                               const HostNetwork& network) {
  ProvisionBundle b;
  b.script = dir / "provision.sh";
  b.files_dir = dir / "files";
  std::error_code ec;
  fs::create_directories(b.files_dir, ec);
  if (ec) return Error(Errc::io, b.files_dir.string() + ": cannot create: " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  std::set<std::string> written;
  for (const auto& e : content.entries()) {
    if (e.kind != Entry::Kind::file) continue;
    std::string digest = digest_of(e);
    if (!written.insert(digest).second) continue;
    fs::path target = b.files_dir / digest;
    if (fs::exists(target, ec)) continue;  // content-addressed: already right
    if (e.blob.empty()) {
      EF_TRY(write_file_atomic(target, e.text));
    } else {
      fs::path tmp = target;
      tmp += ".tmp";
      fs::copy_file(e.blob, tmp, fs::copy_options::overwrite_existing, ec);
      if (ec)
        return Error(Errc::io,
                     "copying " + e.blob.string() + " to " + tmp.string() + ": " + ec.message());
      fs::rename(tmp, target, ec);
      if (ec) return Error(Errc::io, tmp.string() + ": cannot rename: " + ec.message());
    }
  }
  if (!network.netplan.empty()) {
    std::string digest = sha256_hex(network.netplan);
    if (written.insert(digest).second)
      EF_TRY(write_file_atomic(b.files_dir / digest, network.netplan));
  }
  b.files = written.size();
  std::string script = render_provision_script(content, packages, title, network);
  EF_TRY(write_file_atomic(b.script, script));
  fs::permissions(b.script, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                  ec);
  return b;
}

}  // namespace ef::node
