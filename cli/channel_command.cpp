// edgeforge channel: write, sign and explain release channels
// (docs/channels.md). The operator's commands change one file, DIR/NAME.json,
// next to the bundles and heads it names; `show` reads one from a path or URL.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/build/release.hpp"
#include "channel/channel_dir.hpp"
#include "channel/channel_store.hpp"
#include "channel/oci_channel.hpp"
#include "channel/rollout.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "util/atomic_file.hpp"
#include "util/duration.hpp"
#include "util/http_client.hpp"

namespace ef::cli {
namespace {

using nlohmann::json;

struct ChannelArgs {
  std::string to = ".";
  std::string name;  // default: the tag of an oci:// --to, else "stable"
  SignArgs sign;
  RegistryArgs registry;
  std::string expires = "30d";
  std::string bundle, head;
  std::vector<std::string> waves;
  std::string gate;  // "": keep the channel's
  int64_t fleet_size = -1;
  std::string source, keyring, device_id, at;
  std::string from = ".";  // export: the channel's directory
  std::vector<std::string> tags;
  OutputStyle style;
};

enum class Action { init, release, pause, resume, refresh };

/// The channel's name: -c NAME, or the tag of an oci:// location; they
/// must agree when both are given.
Result<std::string> channel_name(const ChannelArgs& a, const std::string& location) {
  std::string tag;
  if (location.starts_with("oci://")) {
    EF_ASSIGN(auto ref, parse_oci_reference(location, a.registry.plain_http));
    tag = ref.tag;
  }
  if (!tag.empty() && !a.name.empty() && tag != a.name)
    return Error(Errc::invalid_argument, location + " names channel \"" + tag + "\", -c names \"" +
                                             a.name + "\"; give one of them");
  if (!tag.empty()) return tag;
  return a.name.empty() ? std::string("stable") : a.name;
}

/// The channel's store: a directory or an OCI repository.
Result<std::unique_ptr<channel::ChannelStore>> open_store(const ChannelArgs& a,
                                                          const std::string& location) {
  if (!location.starts_with("oci://")) return channel::open_dir_store(location);
  EF_ASSIGN(auto registry, open_registry(location, a.registry));
  return channel::open_oci_store(std::move(registry));
}

Result<channel::ChannelDoc> apply(Action action, const ChannelArgs& a, const std::string& name,
                                  channel::ChannelStore& store,
                                  const std::optional<channel::ChannelDoc>& current,
                                  UnixSeconds now, uint64_t lifetime) {
  channel::ChannelDoc d = channel::next_version(current, name, now, lifetime);
  if (a.fleet_size >= 0) d.rollout.fleet_size = static_cast<uint64_t>(a.fleet_size);
  switch (action) {
    case Action::init:
    case Action::refresh:
      break;
    case Action::pause:
      d.paused = true;
      break;
    case Action::resume:
      d.paused = false;
      break;
    case Action::release: {
      EF_ASSIGN(channel::Release r, store.release(a.bundle, a.head));
      // The same release again keeps its start (and its waves unless --wave
      // is given); a new one starts now.
      bool same = d.release && d.release->version == r.version;
      if (!same) d.rollout.start = d.issued;
      d.release = std::move(r);
      if (!same || !a.waves.empty()) d.rollout.waves.clear();
      for (const auto& spec : a.waves) {
        EF_ASSIGN(channel::Wave w, channel::parse_wave_spec(spec));
        d.rollout.waves.push_back(std::move(w));
      }
      if (!a.gate.empty()) {
        EF_ASSIGN(d.rollout.gate, channel::parse_gate_spec(a.gate));
      }
      if (d.rollout.waves.empty()) {
        channel::Wave all;
        all.name = "all";
        all.percent = 100;
        d.rollout.waves.push_back(all);
      }
      break;
    }
  }
  return d;
}

int run_change(Action action, const ChannelArgs& a) {
  auto go = [&]() -> Result<std::pair<channel::ChannelDoc, std::string>> {
    EF_ASSIGN(std::string name, channel_name(a, a.to));
    EF_ASSIGN(auto store, open_store(a, a.to));
    auto lifetime = parse_duration(a.expires);
    if (!lifetime) return lifetime.error().with_context("--expires");
    if (lifetime->count() < 3600)
      return Error(Errc::invalid_argument, "--expires " + a.expires + ": at least 1h");
    std::optional<channel::ChannelDoc> current;
    auto read = channel::read_current(*store, name);
    if (read) {
      if (action == Action::init)
        return Error(
            Errc::invalid_argument,
            store->where(name) + " exists already; use `edgeforge channel release` to change it");
      current = std::move(*read);
    } else if (read.error().code() != Errc::not_found || action != Action::init) {
      return read.error();
    }
    EF_ASSIGN(auto keys, build::load_signing_keys(a.sign.keys, a.sign.passphrase, "--sign-key"));
    std::vector<const signing::SigningKey*> raw;
    for (const auto& k : keys) raw.push_back(k.get());
    EF_ASSIGN(auto doc, apply(action, a, name, *store, current, now_utc(),
                              static_cast<uint64_t>(lifetime->count())));
    EF_TRY(channel::write_channel(*store, doc, raw));
    return std::make_pair(doc, store->where(name));
  };
  auto r = go();
  if (!r) return fail(r.error(), a.style.json);
  const auto& [doc, file] = *r;
  if (a.style.json) {
    json j = {{"file", file},
              {"channel", doc.channel},
              {"version", doc.version},
              {"expires", format_utc(doc.expires)},
              {"paused", doc.paused}};
    if (doc.release) j["release"] = doc.release->version.str();
    std::cout << j.dump(2) << "\n";
  } else if (!a.style.quiet) {
    std::cout << file << ": channel " << doc.channel << " version " << doc.version;
    if (doc.release)
      std::cout << ", release " << doc.release->product << " " << doc.release->version.str()
                << " in " << doc.rollout.waves.size() << " wave"
                << (doc.rollout.waves.size() == 1 ? "" : "s");
    if (doc.paused) std::cout << ", paused";
    std::cout << ", expires " << format_utc(doc.expires) << "\n";
  }
  return 0;
}

Result<std::string> fetch_channel(const ChannelArgs& a, const std::string& source) {
  if (source.starts_with("oci://")) {
    EF_ASSIGN(auto registry, open_registry(source, a.registry));
    if (registry->reference().tag.empty())
      return Error(Errc::invalid_argument,
                   source + ": name the channel as the tag (oci://HOST/REPO:CHANNEL)");
    EF_ASSIGN(auto read, channel::read_oci_channel(*registry, registry->reference().tag));
    return std::move(read.bytes);
  }
  if (source.starts_with("http://") || source.starts_with("https://")) {
    HttpClient client;
    return client.get(source, channel::kMaxChannelBytes + 1);
  }
  return read_file(source);
}

Result<json> show(const ChannelArgs& a) {
  EF_ASSIGN(std::string bytes, fetch_channel(a, a.source));
  UnixSeconds now = now_utc();
  if (!a.at.empty()) {
    auto at = parse_utc(a.at);
    if (!at) return at.error().with_context("--at");
    now = *at;
  }
  json out;
  channel::ChannelDoc doc;
  if (!a.keyring.empty()) {
    EF_ASSIGN(auto ring, signing::Keyring::load(a.keyring));
    std::optional<signing::Keyring> rollout_ring;
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(a.keyring) / "rollout", ec)) {
      EF_ASSIGN(rollout_ring, signing::Keyring::load(std::filesystem::path(a.keyring) / "rollout"));
    }
    channel::TrustPolicy policy;
    policy.now = now;
    policy.rollout_keyring = rollout_ring ? &*rollout_ring : nullptr;
    EF_ASSIGN(auto v, channel::verify_channel(bytes, ring, policy));
    doc = std::move(v.doc);
    out["signedBy"] = v.key_id;
    if (!v.state_key_id.empty()) out["rolloutSignedBy"] = v.state_key_id;
  } else {
    EF_ASSIGN(auto file, channel::split_channel(bytes));
    EF_ASSIGN(doc, channel::parse_doc(file.signed_bytes));
    if (file.rollout) {
      auto state = channel::parse_rollout_state(file.rollout->signed_bytes);
      if (state && doc.release && state->release == doc.release->version) doc.state = *state;
    }
    out["signedBy"] = nullptr;  // not checked: no --keyring
  }
  if (doc.state) {
    json opened = json::object();
    for (const auto& [wave, at] : doc.state->opened) opened[wave] = format_utc(at);
    out["rolloutState"] = {{"version", doc.state->version},
                           {"paused", doc.state->paused},
                           {"reason", doc.state->reason},
                           {"expires", format_utc(doc.state->expires)},
                           {"opened", opened}};
  }
  std::string paused_why;
  out["pausedBy"] = channel::is_paused(doc, now, &paused_why) ? json(paused_why) : json();
  out["channel"] = doc.channel;
  out["version"] = doc.version;
  out["issued"] = format_utc(doc.issued);
  out["expires"] = format_utc(doc.expires);
  out["expired"] = now >= doc.expires;
  out["paused"] = doc.paused;
  out["at"] = format_utc(now);
  if (doc.release)
    out["release"] = {{"product", doc.release->product}, {"version", doc.release->version.str()}};
  auto view = channel::view_rollout(doc, now);
  json waves = json::array();
  for (const auto& w : view.waves)
    waves.push_back({{"name", w.name},
                     {"selects", w.selects},
                     {"opens", w.opens ? json(format_utc(w.opens)) : json()},
                     {"open", w.open},
                     {"share", w.share},
                     {"eligible", w.eligible}});
  out["waves"] = waves;
  out["eligible"] = view.eligible;
  if (const auto& g = doc.rollout.gate)
    out["gate"] = {{"minSucceeded", g->min_succeeded},
                   {"maxFailedPercent", g->max_failed_percent},
                   {"minFinished", g->min_finished},
                   {"deadlineSeconds", g->deadline_seconds}};
  if (!a.device_id.empty()) {
    channel::DeviceIdentity dev{a.device_id, {}};
    for (const auto& t : a.tags) {
      size_t eq = t.find('=');
      if (eq == std::string::npos || eq == 0)
        return Error(Errc::invalid_argument, "--tag " + t + ": expected KEY=VALUE");
      dev.tags[t.substr(0, eq)] = t.substr(eq + 1);
    }
    auto turn = channel::turn_of(doc, dev, now);
    out["device"] = {{"id", dev.id},
                     {"wave", turn.wave ? json(doc.rollout.waves[*turn.wave].name) : json()},
                     {"go", turn.state == channel::Turn::State::go},
                     {"why", channel::describe(doc, turn)}};
  }
  return out;
}

void print_show(const json& j) {
  std::cout << "channel " << j["channel"].get<std::string>() << ", metadata version "
            << j["version"] << ", expires " << j["expires"].get<std::string>()
            << (j["expired"].get<bool>() ? " (EXPIRED)" : "")
            << (j["signedBy"].is_null() ? ", signature not checked (no --keyring)" : "") << "\n";
  if (!j.contains("release")) {
    std::cout << "no release\n";
    return;
  }
  std::cout << "release " << j["release"]["product"].get<std::string>() << " "
            << j["release"]["version"].get<std::string>()
            << (j["pausedBy"].is_string()
                    ? ", PAUSED (" + j["pausedBy"].get<std::string>() + "): no device starts it"
                    : "")
            << "\n";
  if (j.contains("rolloutState"))
    std::cout << "rollout state version " << j["rolloutState"]["version"]
              << " (fleet service), expires " << j["rolloutState"]["expires"].get<std::string>()
              << "\n";
  for (const auto& w : j["waves"]) {
    std::cout << "  " << (w["open"].get<bool>() ? "open   " : "waiting") << " "
              << w["name"].get<std::string>() << ": " << w["selects"].get<std::string>()
              << "; opens "
              << (w["opens"].is_string() ? w["opens"].get<std::string>()
                                         : std::string("when the fleet service opens it (gated)"))
              << "\n";
  }
  std::cout << "eligible at " << j["at"].get<std::string>() << ": "
            << channel::percent_text(j["eligible"].get<double>())
            << " of the fleet by percentage (tag and device waves come on top)\n";
  if (j.contains("device"))
    std::cout << "device " << j["device"]["id"].get<std::string>() << ": "
              << j["device"]["why"].get<std::string>() << "\n";
}

int run_export(const ChannelArgs& a) {
  if (a.from.starts_with("oci://"))
    return fail(Error(Errc::invalid_argument,
                      "--from " + a.from +
                          ": export copies a channel directory; for a channel in a registry, "
                          "publish the same bundles to a directory and export that"),
                a.style.json);
  const std::string name = a.name.empty() ? "stable" : a.name;
  auto r = channel::export_channel(a.from, name, a.to);
  if (!r) return fail(r.error(), a.style.json);
  if (a.style.json) {
    std::cout << json{{"to", a.to},
                      {"channel", name},
                      {"copiedFiles", r->copied_files},
                      {"copiedBytes", r->copied_bytes},
                      {"keptFiles", r->kept_files}}
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << a.to << ": channel " << name << " for an air-gapped site: " << r->copied_files
              << " files copied (" << r->copied_bytes << " bytes), " << r->kept_files
              << " already there; apply it with `edgeforge-agent watch --from DIR`\n";
  }
  return 0;
}

void add_common(CLI::App* cmd, ChannelArgs& a, bool signs) {
  cmd->add_option("--to", a.to,
                  "The channel's directory, served as it is by a web server, bucket or USB stick "
                  "(default: the current directory), or an OCI repository "
                  "oci://HOST[:PORT]/REPO[:CHANNEL]");
  cmd->add_option("-c,--channel", a.name,
                  "Channel name: DIR/NAME.json or the tag NAME (default: stable)");
  add_registry_options(cmd, a.registry);
  if (signs) {
    add_sign_key_options(cmd, a.sign,
                         "Channel signing key, checked by devices against their channel keyring")
        ->required();
    cmd->add_option("--expires", a.expires,
                    "How long devices accept this version of the file (default: 30d); re-sign "
                    "with `edgeforge channel refresh` before then");
    cmd->add_option("--fleet-size", a.fleet_size,
                    "About how many devices follow the channel (for --wave ...,max-per-hour=N)");
  }
  add_output_style(cmd, a.style);
}

}  // namespace

cmdline::Command add_channel_command(CLI::App& app) {
  auto a = std::make_shared<ChannelArgs>();
  auto* cmd = app.add_subcommand(
      "channel", "Write, sign and explain release channels and their staged rollouts");
  cmd->require_subcommand(1);
  std::vector<std::pair<CLI::App*, Action>> changes;
  auto* init = cmd->add_subcommand("init", "Create an empty channel (DIR/NAME.json)");
  add_common(init, *a, true);
  changes.push_back({init, Action::init});
  auto* release = cmd->add_subcommand(
      "release", "Point the channel at a release, or change the waves of the current one");
  add_common(release, *a, true);
  release->add_option("--bundle", a->bundle, "The release's bundle (.efb), inside --to DIR");
  release->add_option("--head", a->head,
                      "The release's bundle head, for delta updates: the .efbh `edgeforge publish "
                      "--to DIR` wrote, or for an oci:// channel the tag `edgeforge publish --to "
                      "oci://...` gave it (its version)");
  release->add_option(
      "--wave", a->waves,
      "A wave, in order (repeat): NAME=N% | NAME=tag:KEY=VALUE[+KEY=VALUE] | "
      "NAME=device:ID[+ID], then ,soak=DUR ,not-before=TIME ,max-per-hour=N. Default for a new "
      "release: all=100%; the same release keeps its waves unless --wave is given");
  release->add_option(
      "--gate", a->gate,
      "Gate every wave after the first on the fleet service's word: "
      "min-succeeded=N,max-failed=P%,min-finished=N,deadline=DUR (defaults 1, 10%, 1, 6h), or "
      "off. The channel keeps its gate unless --gate is given (docs/fleet-api.md)");
  changes.push_back({release, Action::release});
  auto* pause = cmd->add_subcommand("pause", "Stop devices from starting the release");
  add_common(pause, *a, true);
  changes.push_back({pause, Action::pause});
  auto* resume = cmd->add_subcommand("resume", "Let devices start the release again");
  add_common(resume, *a, true);
  changes.push_back({resume, Action::resume});
  auto* refresh = cmd->add_subcommand("refresh", "Re-sign the channel unchanged with a new expiry");
  add_common(refresh, *a, true);
  changes.push_back({refresh, Action::refresh});
  auto* show = cmd->add_subcommand(
      "show", "Explain a channel: its release, which waves are open, who is eligible");
  show->add_option("source", a->source,
                   "The channel: a file path, an http(s):// URL or oci://HOST/REPO:CHANNEL")
      ->required();
  add_registry_options(show, a->registry);
  show->add_option("--keyring", a->keyring,
                   "Check the signature, expiry and clock as a device would");
  show->add_option("--device-id", a->device_id, "Also explain this device's turn");
  show->add_option("--tag", a->tags, "The device's tags, KEY=VALUE (repeat)");
  show->add_option("--at", a->at, "Explain the rollout at this UTC time (default: now)");
  add_output_style(show, a->style);
  auto* export_cmd = cmd->add_subcommand(
      "export", "Copy a channel and everything it names to removable media (air-gapped sites)");
  export_cmd->add_option("--to", a->to, "Where the copy goes (e.g. a mounted USB stick)")
      ->required();
  export_cmd->add_option("--from", a->from,
                         "The channel's directory (default: the current directory)");
  export_cmd->add_option("-c,--channel", a->name, "Channel name: DIR/NAME.json (default: stable)");
  add_output_style(export_cmd, a->style);
  cmd->footer("docs/channels.md describes the file, the waves and what devices check.");
  return {cmd, [a, changes, show, export_cmd] {
            if (export_cmd->parsed()) return run_export(*a);
            for (const auto& [sub, action] : changes)
              if (sub->parsed()) return run_change(action, *a);
            if (show->parsed()) {
              auto r = ef::cli::show(*a);
              if (!r) return fail(r.error(), a->style.json);
              if (a->style.json)
                std::cout << r->dump(2) << "\n";
              else if (!a->style.quiet)
                print_show(*r);
              return 0;
            }
            return 1;
          }};
}

}  // namespace ef::cli
