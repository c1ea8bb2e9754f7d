// edgeforge-agent watch: one poll of the device's release channel and what
// follows from it (docs/channels.md, "On the device"): nothing, wait, or an
// upgrade, and the reboot into it when the site's policy allows.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/boot_control.hpp"
#include "agent/channel_poll.hpp"
#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/operations.hpp"
#include "agent/reboot.hpp"
#include "agent/report.hpp"
#include "agent/watch.hpp"
#include "device/site.hpp"
#include "signing/keyring.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kChannelKeyring = "/etc/edgeforge/channel-keyring";
// A poll at the moment the decision can change (a wave or the window opens),
// when that comes before the timer's next one: a transient systemd timer,
// spread over 10 minutes so a fleet in one time zone does not come at once.
constexpr const char* kWakeCommand =
    "systemd-run --quiet --collect --unit=edgeforge-watch-wake-$EDGEFORGE_WAKE_AT "
    "--on-active=${EDGEFORGE_WAKE_IN}s --timer-property=RandomizedDelaySec=10min "
    "/usr/bin/edgeforge-agent watch";
// Waits longer than this are left to the timer.
constexpr int64_t kMaxWake = 7 * 86400;

struct WatchArgs {
  DevicePaths paths;
  std::string channel;
  fs::path from;
  fs::path channel_keyring;
  fs::path site;
  fs::path machine_id = "/etc/machine-id";
  std::string device_id;
  std::string at;
  std::string reboot_command;
  std::string wake_command = kWakeCommand;
  RebootOptions reboot;
  bool json = false;
};

/// The channel file on removable media: DIR/edgeforge-channel names it.
Result<std::string> media_channel(const fs::path& dir) {
  fs::path marker = dir / channel::kMediaMarker;
  auto text = read_file(marker);
  if (!text) {
    return Error(Errc::not_found, marker.string() +
                                      ": no channel marker; make the copy with 'edgeforge "
                                      "channel export --to DIR'");
  }
  std::string name = text->substr(0, text->find('\n'));
  bool plain =
      !name.empty() && name.ends_with(".json") && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (!plain || name.starts_with("."))
    return Error(Errc::bad_channel,
                 marker.string() + ":1: \"" + name + "\" is not a channel file name (NAME.json)");
  return (dir / name).string();
}

/// The device's ID in the rollout: the same the fleet service knows it by.
Result<std::string> device_id(const WatchArgs& a) {
  if (!a.device_id.empty()) return a.device_id;
  EF_ASSIGN(auto registration, load_registration(a.paths.registration));
  DeviceIdSources sources;
  sources.machine_id = a.machine_id;
  return resolve_device_id("", registration ? registration->device_id : "machine-id", sources);
}

Result<std::optional<SemVer>> parse_version(const std::string& v) {
  if (v.empty()) return std::optional<SemVer>{};
  EF_ASSIGN(SemVer s, SemVer::parse(v));
  return std::optional<SemVer>(s);
}

json time_json(const std::optional<UnixSeconds>& t) {
  return t ? json(format_utc(*t)) : json(nullptr);
}

int run_watch(WatchArgs& a) {
  const Log log = a.json ? Log(log_to_stderr) : Log(log_line);
  const bool json_out = a.json;
  UnixSeconds now = now_utc();
  if (!a.at.empty()) {
    auto t = parse_utc(a.at);
    if (!t) return fail(t.error().with_context("--now"), json_out);
    now = *t;
  }
  if (!a.reboot_command.empty()) a.reboot.command = {"/bin/sh", "-c", a.reboot_command};

  const fs::path persist_agent = a.paths.state.parent_path();
  const fs::path site_path = a.site.empty() ? fs::path(site::kWatchSitePath) : a.site;

  // The site file: channel, window, reboot policy, tags.
  site::Site site;
  std::error_code ec;
  if (fs::exists(site_path, ec)) {
    auto text = read_file(site_path);
    if (!text) return fail(text.error(), json_out);
    auto parsed = site::parse_site(*text, site_path.string());
    if (!parsed) return fail(parsed.error(), json_out);
    site = std::move(*parsed);
  }
  const site::UpdateSettings settings = site.updates.value_or(site::UpdateSettings{});
  std::string url = a.channel.empty() ? settings.channel : a.channel;
  if (!a.from.empty()) {
    auto on_media = media_channel(a.from);
    if (!on_media) return fail(on_media.error(), json_out);
    url = *on_media;
  }
  if (url.empty()) {
    std::string why =
        "no release channel: set updates.channel in " + site_path.string() + " or give --channel";
    if (json_out)
      std::cout << json{{"action", "nothing"}, {"why", why}}.dump(2) << "\n";
    else
      log(why);
    return 0;
  }

  // Only now the lock: a device that follows no channel never takes it, so
  // the timer cannot get in the way of an operator's upgrade.
  auto device = Device::open(a.paths, log);
  if (!device) return fail(device.error(), json_out);

  fs::path ring_dir = a.channel_keyring;
  if (ring_dir.empty())
    ring_dir =
        fs::exists(kChannelKeyring, ec) ? fs::path(kChannelKeyring) : device->config().keyring;
  auto keyring = signing::Keyring::load(ring_dir);
  if (!keyring) return fail(keyring.error(), json_out);
  // The fleet service's rollout keys: they may sign a rollout state (open a
  // gated wave, pause), never a channel document.
  std::optional<signing::Keyring> rollout_keyring;
  if (fs::exists(ring_dir / "rollout", ec)) {
    auto ring = signing::Keyring::load(ring_dir / "rollout");
    if (!ring) return fail(ring.error(), json_out);
    rollout_keyring = std::move(*ring);
  }

  const fs::path watch_path = persist_agent / "watch.json";
  auto ws = load_watch_state(watch_path);
  if (!ws) return fail(ws.error(), json_out);
  AgentState& state = device->state();
  for (const SlotRecord* r : {&state.a, &state.b}) {
    if (r->health == SlotHealth::bad && !r->version.empty() &&
        std::find(ws->failed.begin(), ws->failed.end(), r->version) == ws->failed.end())
      ws->failed.push_back(r->version);
  }

  PollOptions po;
  po.url = url;
  po.keyring = &*keyring;
  po.rollout_keyring = rollout_keyring ? &*rollout_keyring : nullptr;
  po.cache = persist_agent / "channel.json";
  po.now = now;
  auto polled = poll_channel(po, *ws);
  ws->polled = now;
  if (!polled) {
    ws->error = polled.error().message();
    (void)save_watch_state(watch_path, *ws);
    return fail(polled.error(), json_out);
  }
  ws->error.clear();
  const channel::ChannelDoc& doc = polled->channel.doc;

  // What the device knows about itself.
  WatchFacts facts;
  facts.product = device->config().product;
  facts.compatible = device->config().compatible;
  const std::string booted = device->booted();
  std::string running = booted.empty() ? "" : state.slot(booted).version;
  if (running.empty()) running = device->config().version;
  auto running_v = SemVer::parse(running);
  if (!running_v) return fail(running_v.error().with_context("the running version"), json_out);
  facts.running = *running_v;
  auto id = device_id(a);
  if (!id) return fail(id.error(), json_out);
  facts.identity = {*id, site.tags};
  facts.window = settings.window;
  for (const std::string& v : ws->failed)
    if (auto s = SemVer::parse(v)) facts.failed.push_back(*s);
  std::string staged_slot;
  if (!booted.empty()) {
    std::string other = other_slot(booted);
    if (state.slot(other).health == SlotHealth::trial) {
      auto v = parse_version(state.slot(other).version);
      if (v && *v) {
        facts.staged = **v;
        staged_slot = other;
      }
    }
  }

  auto decision = decide(doc, url, facts, now);
  if (!decision) return fail(decision.error(), json_out);
  ws->channel = doc.channel;
  ws->metadata_version = doc.version;
  ws->release = doc.release ? doc.release->version.str() : "";
  ws->action = watch_action_name(decision->action);
  ws->reason = decision->reason;
  ws->why = decision->why;
  auto wave = channel::wave_of(doc, facts.identity);
  ws->wave = wave ? doc.rollout.waves[*wave].name : "";
  ws->until = decision->until;
  log("channel \"" + doc.channel + "\" version " + std::to_string(doc.version) + " (" +
      polled->how + "): " + ws->action + ": " + decision->why);

  json out = {{"channel", doc.channel},
              {"metadataVersion", doc.version},
              {"source", polled->how},
              {"release", doc.release ? json(ws->release) : json(nullptr)},
              {"wave", ws->wave.empty() ? json(nullptr) : json(ws->wave)},
              {"action", ws->action},
              {"why", decision->why},
              {"until", time_json(decision->until)},
              {"installed", nullptr},
              {"reboot", nullptr}};
  int status = 0;
  if (decision->action == WatchDecision::Action::upgrade) {
    UpgradeOptions uo;
    uo.bundle = decision->url;
    if (decision->is_head)
      uo.expected_head = ExpectedFile{decision->artifact.sha256, decision->artifact.size};
    const channel::Release release = *doc.release;
    uo.accept = [&release](const signing::BundleManifest& m) -> Result<void> {
      if (m.product != release.product || m.compatible != release.compatible ||
          m.version != release.version)
        return Error(Errc::refused, "the bundle holds " + m.product + " " + m.version.str() + " (" +
                                        m.compatible + "), not the channel's release " +
                                        release.product + " " + release.version.str() + " (" +
                                        release.compatible + "); nothing was written");
      return Ok{};
    };
    auto r = upgrade(*device, uo, log);
    if (!r) {
      ws->action = "failed";
      ws->reason = "install-failed";
      ws->why = r.error().message();
      ws->until.reset();
      (void)save_watch_state(watch_path, *ws);
      report_change(a.paths, "watch", log);
      return fail(r.error(), json_out);
    }
    staged_slot = r->slot;
    facts.staged = decision->version;
    out["installed"] = {{"slot", r->slot},
                        {"version", decision->version.str()},
                        {"delta", r->install.delta.used},
                        {"fetchedBytes", r->install.delta.fetched_bytes}};
    ws->action = "staged";
    ws->reason = "reboot";
    ws->why = "release " + decision->version.str() + " is installed in slot " + r->slot +
              " and boots next";
  }

  // A staged release: reboot into it when the policy allows.
  bool reboot = false;
  if (facts.staged && doc.release && *facts.staged == doc.release->version) {
    RebootVerdict v = may_reboot(site::reboot_policy_name(settings.reboot), settings.window, now);
    if (v.now) {
      reboot = true;
    } else {
      ws->action = "staged";
      ws->reason = v.until ? "window" : "reboot";
      ws->why =
          "release " + facts.staged->str() + " is installed in slot " + staged_slot + "; " + v.why;
      ws->until = v.until;
      out["reboot"] = "waiting";
      log(ws->why);
    }
  }
  out["action"] = ws->action;
  out["why"] = ws->why;
  out["until"] = time_json(ws->until);
  if (reboot) {
    a.reboot.reason = "release " + facts.staged->str() + " in slot " + staged_slot;
    ws->action = "rebooting";
    (void)save_watch_state(watch_path, *ws);
    report_change(a.paths, "watch", log);
    auto r = reboot_device(a.reboot, log);
    if (!r) {
      ws->action = "staged";
      ws->why = r.error().message();
      out["reboot"] = "postponed";
      log(ws->why);
      if (r.error().code() != Errc::refused) status = 1;
    } else {
      out["reboot"] = "now";
    }
    out["action"] = ws->action;
    out["why"] = ws->why;
  }
  if (auto s = save_watch_state(watch_path, *ws); !s) return fail(s.error(), json_out);
  if (!reboot) report_change(a.paths, "watch", log);
  if (!reboot && ws->until && *ws->until > now && *ws->until - now <= kMaxWake) {
    ProcessOptions wake;
    wake.env = {{"EDGEFORGE_WAKE_AT", std::to_string(*ws->until)},
                {"EDGEFORGE_WAKE_IN", std::to_string(*ws->until - now)}};
    auto r = run_process({"/bin/sh", "-c", a.wake_command}, wake);
    if (!r || !r->success())
      log("could not arm the poll at " + format_utc(*ws->until) + " (" +
          (r ? r->describe() : r.error().message()) + "); the timer polls as usual");
    else
      log("next look at " + format_utc(*ws->until));
  }
  if (json_out) std::cout << out.dump(2) << "\n";
  return status;
}

}  // namespace

cmdline::Command add_watch_command(CLI::App& app) {
  auto a = std::make_shared<WatchArgs>();
  auto* cmd = app.add_subcommand(
      "watch", "Poll the release channel once; upgrade when it is this device's turn");
  cmd->add_option("--channel", a->channel,
                  "Channel: an http(s):// URL, oci://HOST/REPO:CHANNEL or a file path (default: "
                  "updates.channel of the site file)");
  cmd->add_option("--from", a->from,
                  "Removable media holding a channel copy ('edgeforge channel export'): "
                  "the channel file named by DIR/edgeforge-channel");
  cmd->add_option(
      "--channel-keyring", a->channel_keyring,
      std::string("Keys trusted to sign channels (default: ") + kChannelKeyring +
          " when present, else the bundle keyring); its rollout/ subdirectory holds the "
          "fleet service's rollout keys");
  cmd->add_option("--site", a->site,
                  std::string("Site file with the updates: section and tags (default: ") +
                      site::kWatchSitePath + ", which the site's rendering writes)");
  cmd->add_option("--device-id", a->device_id,
                  "This device's ID (default: /etc/machine-id, or the DMI serial number when the "
                  "site's registration says deviceId: serial)");
  cmd->add_option("--now", a->at, "Decide as if it were this UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  cmd->add_option(
      "--hooks", a->reboot.hooks,
      "Pre-reboot hooks, run in name order (default: " + a->reboot.hooks.string() + ")");
  cmd->add_option("--reboot-command", a->reboot_command,
                  "Shell command that reboots the device (default: systemctl reboot)");
  cmd->add_option("--wake-command", a->wake_command,
                  "Shell command that polls again in $EDGEFORGE_WAKE_IN seconds (default: a "
                  "transient systemd timer)");
  cmd->add_flag("--json", a->json, "Print the decision as JSON on stdout (the log goes to stderr)");
  add_device_options(cmd, a->paths);
  cmd->footer(
      "One poll: a conditional GET of the channel (a 304 reuses the copy kept on the\n"
      "persistent partition), its signature, expiry and metadata version checked, then the\n"
      "decision: a release for this product, newer than the running one, not failed here,\n"
      "this device's wave open (its place in the rollout comes from its ID), the channel not\n"
      "paused, inside the site's maintenance window. Then the upgrade (a bundle head must be\n"
      "the bytes the channel names), and the reboot under the site's reboot policy\n"
      "(immediate, window, manual) after the pre-reboot hooks. edgeforge-watch.timer runs it.");
  return {cmd, [a] { return run_watch(*a); }};
}

}  // namespace ef::agent
