#include "builder/agent_layer/agent_layer.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "builder/agent_layer/image_initramfs.hpp"
#include "device/watch_timer.hpp"
#include "signing/keys.hpp"
#include "util/canonical_json.hpp"
#include "util/sha256.hpp"

namespace ef::agent_layer {
namespace {

using nlohmann::json;

constexpr const char* kOrigin = "edgeforge-agent";
constexpr const char* kUnitDir = "/usr/lib/systemd/system/";
constexpr const char* kEtcUnitDir = "/etc/systemd/system/";

constexpr const char* kBootUnit = R"([Unit]
Description=edgeforge: check this boot's slot and mark it good or roll back
After=local-fs.target network.target

[Service]
Type=oneshot
ExecStart=/usr/bin/edgeforge-agent boot
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
)";

constexpr const char* kInstallUnit = R"([Unit]
Description=edgeforge: install this image onto the disk (installer boot)
ConditionKernelCommandLine=edgeforge.install=1
After=local-fs.target systemd-udev-settle.service

[Service]
Type=oneshot
ExecStart=/usr/bin/edgeforge-agent install --auto
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
)";

// The heartbeat to the fleet service: a status report every 15 minutes on a
// device whose site names a registration (commands that change the device
// report at once; this sends what they could not and says "still here").
constexpr const char* kReportUnit = R"([Unit]
Description=edgeforge: report the device's status to the fleet service
ConditionPathExists=/etc/edgeforge/registration.yaml
Wants=network-online.target
After=network-online.target edgeforge-boot.service

[Service]
Type=oneshot
ExecStart=/usr/bin/edgeforge-agent report
TimeoutStartSec=10min
)";

constexpr const char* kReportTimer = R"([Unit]
Description=edgeforge: status report heartbeat
ConditionPathExists=/etc/edgeforge/registration.yaml

[Timer]
OnBootSec=2min
OnUnitActiveSec=15min
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
)";

// Removable media with a release channel copy (`edgeforge channel export`):
// udev hands every inserted file system to edgeforge-media@.service, whose
// script mounts it read-only and applies the copy when it carries the
// marker. The device's own partitions are left alone.
constexpr const char* kMediaRulePath = "/usr/lib/udev/rules.d/90-edgeforge-media.rules";
constexpr const char* kMediaRule =
    R"(# edgeforge: apply a release channel copied to removable media (docs/channels.md).
ACTION!="add", GOTO="edgeforge_media_end"
SUBSYSTEM!="block", GOTO="edgeforge_media_end"
ENV{ID_FS_USAGE}!="filesystem", GOTO="edgeforge_media_end"
ENV{ID_PART_ENTRY_NAME}=="edgeforge-*", GOTO="edgeforge_media_end"
ENV{ID_FS_TYPE}=="vfat|exfat|ext2|ext3|ext4|iso9660|udf", TAG+="systemd", ENV{SYSTEMD_WANTS}+="edgeforge-media@%k.service"
LABEL="edgeforge_media_end"
)";

constexpr const char* kMediaUnit = R"([Unit]
Description=edgeforge: apply a release channel copy from /dev/%I
BindsTo=dev-%i.device
After=dev-%i.device edgeforge-boot.service

[Service]
Type=oneshot
ExecStart=/usr/lib/edgeforge/media-apply %I
TimeoutStartSec=3h
StandardOutput=journal+console
)";

constexpr const char* kMediaScriptPath = "/usr/lib/edgeforge/media-apply";
constexpr const char* kMediaScript = R"(#!/bin/sh
# edgeforge: mount an inserted file system read-only and, when it holds a
# release channel copy (the edgeforge-channel marker), apply it with
# `edgeforge-agent watch --from`; unmount afterwards.
set -eu
name=$1
dev=/dev/$name
dir=/run/edgeforge/media/$name
mkdir -p "$dir"
if ! mount -o ro,nosuid,nodev,noexec "$dev" "$dir"; then
  rmdir "$dir"
  echo "edgeforge-media: cannot mount $dev; left alone"
  exit 0
fi
trap 'umount "$dir" && rmdir "$dir"' EXIT
if [ ! -f "$dir/edgeforge-channel" ]; then
  echo "edgeforge-media: $dev holds no edgeforge-channel marker; left alone"
  exit 0
fi
echo "edgeforge-media: applying the release channel copy on $dev"
/usr/bin/edgeforge-agent watch --from "$dir"
)";

// Adds one file to the layer and its input record to the manifest.
class LayerBuilder {
 public:
  explicit LayerBuilder(AgentLayer& out) : out_(out) {}

  void file(const std::string& path, std::string bytes, uint32_t mode, const std::string& kind,
            json extra = json::object()) {
    json r = {{"role", "agent"}, {"kind", kind}, {"path", path}, {"sha256", sha256_hex(bytes)}};
    r.update(extra);
    out_.inputs.push_back(std::move(r));
    out_.content.file(path, std::move(bytes), kOrigin, mode);
  }

 private:
  AgentLayer& out_;
};

// Trusted keys by key ID (sorted, one file each): the build's signing keys,
// then the profile's extra key files.
Result<std::map<std::string, std::string>> trusted_keys(const profile::Profile& p,
                                                        const AgentLayerSpec& spec) {
  std::map<std::string, std::string> keys;
  for (const auto& k : spec.sign_keys) keys[k.key_id] = k.pem;
  for (const auto& file : p.agent.keyring) {
    auto key = signing::PublicKey::load(file);
    if (!key) return std::move(key).error().with_context(p.file.string() + ": spec.agent.keyring");
    keys[key->key_id()] = key->pem();
  }
  return keys;
}

}  // namespace

std::vector<AgentUnit> agent_units(const profile::AgentSettings& agent) {
  return {{"edgeforge-boot.service", kBootUnit, "multi-user.target"},
          {"edgeforge-install.service", kInstallUnit, "multi-user.target"},
          {device::kWatchService, device::watch_service_unit(), ""},
          {device::kWatchTimer,
           device::watch_timer_unit(agent.update_interval, agent.update_jitter), "timers.target"},
          {"edgeforge-media@.service", kMediaUnit, ""},
          {"edgeforge-report.service", kReportUnit, ""},
          {"edgeforge-report.timer", kReportTimer, "timers.target"}};
}

Result<std::string> agent_config(const profile::Profile& p,
                                 const std::vector<std::string>& default_units) {
  const auto& a = p.agent;
  json commands = json::array();
  for (const auto& c : a.health_commands)
    commands.push_back({{"run", c.run}, {"timeoutSeconds", c.timeout_seconds}});
  json config = {
      {"compatible", p.compatible()},
      {"health",
       {{"commands", commands},
        {"timeoutSeconds", a.health_timeout_seconds},
        {"units", a.health_units ? *a.health_units : default_units}}},
      {"keyring", kKeyringDir},
      {"product", p.name},
      {"tries", a.tries},
      {"version", p.version},
  };
  return canonical_json(config);
}

Result<AgentLayer> make_agent_layer(const profile::Profile& p, const tree::Tree& tree,
                                    const AgentLayerSpec& spec) {
  AgentLayer out;
  LayerBuilder add(out);
  for (const char* dir : {"/etc/edgeforge", kKeyringDir, "/usr/lib/edgeforge", kPrivateLibDir,
                          "/usr/lib/edgeforge/boot"})
    out.content.dir(dir, kOrigin);

  const AgentFiles& files = spec.files;
  add.file(kAgentPath, files.binary.bytes, 0755, "agent binary");
  json libraries = json::array();
  for (const auto& lib : files.libraries) {
    add.file(std::string(kPrivateLibDir) + "/" + lib.soname, lib.bytes, 0755, "agent library",
             {{"from", lib.source.string()}});
    libraries.push_back(lib.soname);
  }

  EF_ASSIGN(auto config, agent_config(p, spec.default_units));
  add.file(kConfigPath, std::move(config), 0644, "agent config");

  EF_ASSIGN(auto keys, trusted_keys(p, spec));
  for (const auto& [id, pem] : keys)
    add.file(std::string(kKeyringDir) + "/" + id + ".pub", pem, 0644, "trusted key");
  std::set<std::string> revoked(p.agent.revoked.begin(), p.agent.revoked.end());
  if (!revoked.empty()) {
    std::string text = "# key IDs this image no longer trusts (spec.agent.revoked)\n";
    for (const auto& id : revoked) text += id + "\n";
    add.file(std::string(kKeyringDir) + "/revoked", std::move(text), 0644, "revoked keys");
  }

  if (!p.agent.channel_keyring.empty()) {
    out.content.dir(kChannelKeyringDir, kOrigin);
    for (const auto& file : p.agent.channel_keyring) {
      auto key = signing::PublicKey::load(file);
      if (!key)
        return std::move(key).error().with_context(p.file.string() +
                                                   ": spec.agent.updates.keyring");
      add.file(std::string(kChannelKeyringDir) + "/" + key->key_id() + ".pub", key->pem(), 0644,
               "trusted channel key");
    }
  }
  if (!p.agent.rollout_keyring.empty()) {
    // Beside the channel keys, so watch finds them; without channel keys
    // the agent would look beside the bundle keys instead.
    if (p.agent.channel_keyring.empty())
      return Error(Errc::invalid_profile,
                   p.file.string() +
                       ": spec.agent.updates.rolloutKeyring needs spec.agent.updates.keyring (the "
                       "keys that sign the channels whose rollouts the service's keys steer)");
    const std::string dir = std::string(kChannelKeyringDir) + "/rollout";
    out.content.dir(dir, kOrigin);
    for (const auto& file : p.agent.rollout_keyring) {
      auto key = signing::PublicKey::load(file);
      if (!key)
        return std::move(key).error().with_context(p.file.string() +
                                                   ": spec.agent.updates.rolloutKeyring");
      add.file(dir + "/" + key->key_id() + ".pub", key->pem(), 0644, "trusted rollout key");
    }
  }

  for (const AgentUnit& unit : agent_units(p.agent)) {
    add.file(kUnitDir + unit.name, unit.text, 0644, "agent unit");
    // What `systemctl enable` does: an absolute link to the unit file.
    if (!unit.wanted_by.empty())
      out.content.link(kEtcUnitDir + unit.wanted_by + ".wants/" + unit.name, kUnitDir + unit.name,
                       kOrigin);
  }

  add.file(kMediaRulePath, kMediaRule, 0644, "agent udev rule");
  add.file(kMediaScriptPath, kMediaScript, 0755, "agent script");

  auto cpio = build_image_initramfs(tree, spec.persistent_paths, spec.epoch, spec.verity_open);
  if (!cpio) return std::move(cpio).error().with_context("building " + std::string(kCpioPath));
  json initramfs = nullptr;
  if (*cpio) {
    initramfs = sha256_hex(**cpio);
    add.file(kCpioPath, std::move(**cpio), 0644, "initramfs addition");
  }

  auto glibc = files.binary.elf.max_glibc();
  for (const auto& lib : files.libraries) {
    auto v = lib.elf.max_glibc();
    if (v && (!glibc || *glibc < *v)) glibc = v;
  }
  std::vector<std::string> key_ids;
  for (const auto& [id, pem] : keys) key_ids.push_back(id);
  out.record = {{"binarySha256", files.binary.sha256},
                {"libraries", libraries},
                {"glibcNeeded", glibc ? json(glibc->str()) : json(nullptr)},
                {"glibcCeiling", kGlibcCeiling.str()},
                {"trustedKeys", key_ids},
                {"revoked", std::vector<std::string>(revoked.begin(), revoked.end())},
                {"initramfsSha256", initramfs}};
  return out;
}

}  // namespace ef::agent_layer
