#include "fleet/dashboard_pages.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace ef::fleet::pages {
namespace {

using html::fill;
using html::Markup;
using nlohmann::json;

// One style sheet, inline: the service serves nothing but these pages.
constexpr const char* kStyle = R"(
:root{--ok:#2e7d32;--run:#1565c0;--wait:#9e9e9e;--bad:#c62828;--other:#bcaaa4;--line:#e3e6ea}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#212121;background:#f4f5f7}
header{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#263238;color:#fff}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:700;font-size:16px}
header nav{display:flex;gap:18px;flex:1}
header form{margin:0;display:flex;gap:10px;align-items:center}
main{padding:14px 24px;max-width:1400px}
h1{font-size:21px;margin:4px 0 12px}
h2{font-size:15px;margin:0 0 8px}
h3{font-size:14px;margin:12px 0 6px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin-bottom:14px}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:14px}
.tile{background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px 14px;min-width:104px}
.tile b{display:block;font-size:21px}
.tile span{color:#616161}
.tile.bad b{color:var(--bad)}
table{border-collapse:collapse;width:100%}
table.waves{table-layout:fixed}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:#455a64;background:#fafbfc}
.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:flex;height:14px;min-width:180px;border-radius:3px;overflow:hidden;background:#eceff1}
.bar span{display:block;height:100%}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 12px}
.seg-updated{background:var(--ok)}.seg-updating{background:var(--run)}.seg-pending{background:var(--wait)}
.seg-failed{background:var(--bad)}.seg-other{background:var(--other)}
.err{color:var(--bad);font-family:ui-monospace,"DejaVu Sans Mono",monospace;white-space:pre-wrap;word-break:break-word}
.muted{color:#757575}
.paused{color:var(--bad);font-weight:600}
.tag{display:inline-block;background:#eceff1;border-radius:3px;padding:0 6px;margin:0 4px 2px 0}
form.inline{display:flex;gap:6px;margin:0}
input{font:inherit;padding:3px 6px;border:1px solid #b0bec5;border-radius:4px}
button{font:inherit;padding:3px 12px;border-radius:4px;border:1px solid #90a4ae;background:#fff;cursor:pointer}
button.danger{border-color:var(--bad);color:var(--bad)}
dl{display:grid;grid-template-columns:190px 1fr;gap:4px 12px;margin:0}
dt{color:#616161}dd{margin:0}
pre{background:#f7f8fa;padding:8px;overflow:auto;max-height:320px;margin:4px 0}
.login{max-width:380px;margin:64px auto}
.login label{display:block;margin:10px 0 3px}
.login input{width:100%}
.login button{margin-top:14px}
)";

/// The phases of fleet/placement.hpp in the dashboard's five groups: the
/// columns of a wave's row and the segments of its bar.
struct Group {
  const char* name;
  const char* label;
  std::array<const char*, 2> phases;  // nullptr-padded; "other" takes the rest
};
constexpr std::array<Group, 5> kGroups = {{
    {"updated", "updated", {"updated", nullptr}},
    {"updating", "updating", {"updating", nullptr}},
    {"pending", "pending", {"pending", "waiting-window"}},
    {"failed", "failed", {"failed", "rolled-back"}},
    {"other", "other", {nullptr, nullptr}},
}};

bool in_group(const Group& g, const std::string& phase) {
  if (g.phases[0] == nullptr) {
    for (const Group& named : kGroups)
      if (named.phases[0] != nullptr && in_group(named, phase)) return false;
    return true;
  }
  return std::any_of(g.phases.begin(), g.phases.end(),
                     [&](const char* p) { return p != nullptr && phase == p; });
}

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_string()) return "";
  return j.at(key).get<std::string>();
}

int64_t num(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_number_integer()) return 0;
  return j.at(key).get<int64_t>();
}

const json& member(const json& j, const char* key) {
  static const json none;
  if (!j.is_object() || !j.contains(key)) return none;
  return j.at(key);
}

/// The devices of `by_phase` ({phase: count}) in group `g`.
int64_t group_count(const json& by_phase, const Group& g) {
  int64_t n = 0;
  if (by_phase.is_object())
    for (const auto& [phase, count] : by_phase.items())
      if (count.is_number_integer() && in_group(g, phase)) n += count.get<int64_t>();
  return n;
}

std::string ago(UnixSeconds t, UnixSeconds now) {
  int64_t s = now - t;
  if (s < 0) return "in the future";
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

Markup time_cell(std::optional<UnixSeconds> t, UnixSeconds now) {
  if (!t || *t == 0) return fill(R"(<span class="muted">never</span>)");
  return fill(R"(<span title="{}">{}</span>)", format_utc(*t), ago(*t, now));
}

Markup or_dash(const std::string& text) {
  if (text.empty()) return fill(R"(<span class="muted">—</span>)");
  return fill("{}", text);
}

Markup device_link(const std::string& id) {
  return fill(R"(<a href="/devices/{}">{}</a>)", html::url_part(id), id);
}

Markup error_cell(const std::string& error) {
  if (error.empty()) return fill(R"(<td><span class="muted">—</span></td>)");
  return fill(R"(<td class="err">{}</td>)", error);
}

Markup tile(const std::string& metric, int64_t n, const char* label, bool bad = false) {
  if (bad && n > 0)
    return fill(R"(<div class="tile bad"><b data-metric="{}">{}</b><span>{}</span></div>)", metric,
                n, label);
  return fill(R"(<div class="tile"><b data-metric="{}">{}</b><span>{}</span></div>)", metric, n,
              label);
}

Markup bar(const json& by_phase, int64_t total) {
  Markup out = fill(R"(<div class="bar">)");
  for (const Group& g : kGroups) {
    int64_t n = group_count(by_phase, g);
    if (n == 0 || total <= 0) continue;
    char width[16];
    std::snprintf(width, sizeof width, "%.2f", 100.0 * static_cast<double>(n) / total);
    out += fill(R"(<span class="seg-{}" style="width:{}%" title="{} {}"></span>)", g.name,
                std::string(width), n, g.label);
  }
  out += fill("</div>");
  return out;
}

Markup legend() {
  Markup out = fill(R"(<p class="muted">)");
  for (const Group& g : kGroups)
    out += fill(R"(<span class="key seg-{}"></span>{})", g.name, g.label);
  out += fill(
      " &nbsp;(pending includes waiting for the maintenance window; failed includes rolled "
      "back)</p>");
  return out;
}

/// "1.1.0 ×3, 1.0.0 ×2" from {version: count}.
Markup running(const json& versions) {
  if (!versions.is_object() || versions.empty()) return or_dash("");
  std::vector<std::pair<int64_t, std::string>> list;
  for (const auto& [v, n] : versions.items())
    list.emplace_back(n.is_number_integer() ? n.get<int64_t>() : 0, v);
  std::sort(list.rbegin(), list.rend());
  Markup out;
  for (const auto& [n, v] : list)
    out += fill(R"(<span class="tag">{} ×{}</span>)", v.empty() ? "(none)" : v, n);
  return out;
}

Markup rollouts(const json& channels) {
  Markup out = fill("<section><h2>Rollouts: versions per channel and wave</h2>");
  if (!channels.is_array() || channels.empty())
    out += fill(R"(<p class="muted">No device has reported yet.</p>)");
  for (const json& c : channels.is_array() ? channels : json::array()) {
    const std::string channel = str(c, "channel");
    for (const json& r : member(c, "releases").is_array() ? c["releases"] : json::array()) {
      const std::string release = str(r, "release");
      out += fill(R"(<h3>{} → {} <span class="muted">({} devices)</span></h3>)",
                  channel.empty() ? "(no channel)" : channel,
                  release.empty() ? "(no release)" : release, num(r, "devices"));
      out += fill(
          R"(<table class="waves"><tr><th style="width:10%">Wave</th>)"
          R"(<th class="n" style="width:7%">Devices</th><th style="width:22%">Progress</th>)"
          R"(<th class="n" style="width:7%">Updated</th><th class="n" style="width:7%">Updating)"
          R"(</th><th class="n" style="width:7%">Pending</th><th class="n" style="width:7%">)"
          R"(Failed</th><th class="n" style="width:7%">Other</th><th>Running</th></tr>)");
      for (const json& w : member(r, "waves").is_array() ? r["waves"] : json::array()) {
        const std::string wave = str(w, "wave");
        const json& by_phase = member(w, "byPhase");
        Markup cells;
        for (const Group& g : kGroups)
          cells +=
              fill(R"(<td class="n" data-count="{}">{}</td>)", g.name, group_count(by_phase, g));
        out += fill(
            R"(<tr class="wave" data-channel="{}" data-release="{}" data-wave="{}">)"
            R"(<td>{}</td><td class="n" data-count="devices">{}</td><td>{}</td>{}<td>{}</td></tr>)",
            channel, release, wave, or_dash(wave), num(w, "devices"),
            bar(by_phase, num(w, "devices")), cells, running(member(w, "running")));
      }
      out += fill("</table>");
    }
  }
  out += legend();
  out += fill("</section>");
  return out;
}

Markup channel_row(const json& c, const Viewer& viewer) {
  const std::string name = str(c, "channel");
  const bool paused = member(c, "paused").is_boolean() && c["paused"].get<bool>();
  Markup state;
  if (!str(c, "error").empty())
    state = fill(R"(<span class="err">{}</span>)", str(c, "error"));
  else if (paused)
    state = fill(R"(<span class="paused">paused</span> <span class="muted">{}</span>)",
                 str(c, "reason"));
  else
    state = fill("rolling out");
  Markup waves;
  for (const json& w : member(c, "waves").is_array() ? c["waves"] : json::array())
    if (member(w, "open").is_boolean() && w["open"].get<bool>())
      waves += fill(R"(<span class="tag">{}</span>)", str(w, "wave"));
  const std::string action = "/channels/" + html::url_part(name) + (paused ? "/resume" : "/pause");
  Markup button =
      paused
          ? fill(R"(<button type="submit" name="do" value="resume">Resume</button>)")
          : fill(R"(<input name="reason" placeholder="reason, optional" maxlength="200">)"
                 R"(<button type="submit" name="do" value="pause" class="danger">Pause</button>)");
  return fill(
      R"(<tr data-channel="{}" data-state="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>)"
      R"(<td><form class="inline" method="post" action="{}">)"
      R"(<input type="hidden" name="csrf" value="{}">{}</form></td></tr>)",
      name, paused ? "paused" : "rolling", name, or_dash(str(c, "release")), state,
      waves.str().empty() ? or_dash("") : waves, action, viewer.csrf, button);
}

Markup channels_section(const Result<json>* channels, const Viewer& viewer) {
  Markup out = fill("<section><h2>Channels</h2>");
  if (channels == nullptr) {
    out += fill(R"(<p class="muted">This service watches no channel.</p></section>)");
    return out;
  }
  if (!*channels) {
    out += fill(R"(<p class="err">The channels cannot be listed: {}</p></section>)",
                channels->error().message());
    return out;
  }
  const json& list = member(**channels, "channels");
  if (!list.is_array() || list.empty()) {
    out += fill(R"(<p class="muted">No channel is configured.</p></section>)");
    return out;
  }
  out += fill(
      "<table><tr><th>Channel</th><th>Release</th><th>State</th><th>Open waves</th>"
      "<th></th></tr>");
  for (const json& c : list) out += channel_row(c, viewer);
  out += fill("</table></section>");
  return out;
}

Markup failing_section(const json& rollup) {
  const json& list = member(rollup, "failingDevices");
  Markup out = fill(R"(<section><h2>Failing devices <span class="muted">({})</span></h2>)",
                    list.is_array() ? list.size() : 0);
  if (!list.is_array() || list.empty()) {
    out += fill(R"(<p class="muted">None.</p></section>)");
    return out;
  }
  out += fill(
      "<table><tr><th>Device</th><th>Phase</th><th>Channel</th><th>Release</th><th>Wave</th>"
      "<th>Since</th><th>Last error</th></tr>");
  for (const json& d : list)
    out += fill(R"(<tr data-device="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>)"
                R"(<td>{}</td>{}</tr>)",
                str(d, "id"), device_link(str(d, "id")), str(d, "phase"),
                or_dash(str(d, "channel")), or_dash(str(d, "release")), or_dash(str(d, "wave")),
                str(d, "since"), error_cell(str(d, "error")));
  out += fill("</table></section>");
  return out;
}

Markup silent_section(const json& rollup) {
  const json& list = member(rollup, "silentDevices");
  Markup out = fill(
      R"(<section><h2>Silent devices <span class="muted">(no report for {} h: {})</span></h2>)",
      num(rollup, "silentAfterSeconds") / 3600, num(rollup, "silent"));
  if (!list.is_array() || list.empty()) {
    out += fill(R"(<p class="muted">None.</p></section>)");
    return out;
  }
  out += fill("<table><tr><th>Device</th><th>Last report</th><th>Phase</th></tr>");
  for (const json& d : list)
    out += fill(R"(<tr data-device="{}"><td>{}</td><td>{}</td><td>{}</td></tr>)", str(d, "id"),
                device_link(str(d, "id")),
                str(d, "lastReport").empty() ? or_dash("never") : fill("{}", str(d, "lastReport")),
                str(d, "phase"));
  out += fill("</table></section>");
  return out;
}

Markup tags_section(const json& rollup) {
  const json& tags = member(rollup, "byTag");
  if (!tags.is_object() || tags.empty()) return {};
  Markup out =
      fill(R"(<section><h2>By site tag</h2><table><tr><th>Tag</th><th class="n">Devices</th>)"
           R"(<th class="n">Updated</th><th class="n">Updating</th><th class="n">Pending</th>)"
           R"(<th class="n">Failed</th><th class="n">Other</th></tr>)");
  for (const auto& [tag, by_phase] : tags.items()) {
    int64_t total = 0;
    Markup cells;
    for (const Group& g : kGroups) {
      total += group_count(by_phase, g);
      cells += fill(R"(<td class="n">{}</td>)", group_count(by_phase, g));
    }
    out += fill(R"(<tr><td><span class="tag">{}</span></td><td class="n">{}</td>{}</tr>)", tag,
                total, cells);
  }
  out += fill("</table></section>");
  return out;
}

Markup tags(const std::map<std::string, std::string>& t) {
  if (t.empty()) return or_dash("");
  Markup out;
  for (const auto& [k, v] : t) out += fill(R"(<span class="tag">{}={}</span>)", k, v);
  return out;
}

/// One line about a report: what it says of the slots and the update.
Markup report_row(const Registry::Report& rep, UnixSeconds now) {
  json r = json::parse(rep.body, nullptr, false);
  const std::string booted = str(r, "booted");
  Markup slots;
  for (const char* s : {"A", "B"}) {
    const json& slot = member(member(r, "slots"), s);
    if (slot.is_object())
      slots += fill(R"(<span class="tag">{}{}: {}</span>)", s, booted == s ? "*" : "",
                    str(slot, "version").empty() ? "—" : str(slot, "version"));
  }
  const json& u = member(r, "updates");
  std::string update = str(u, "action");
  if (!str(u, "reason").empty()) update += " (" + str(u, "reason") + ")";
  std::string error = str(u, "error");
  if (error.empty() && str(member(r, "lastOperation"), "phase") == "failed")
    error = str(member(r, "lastOperation"), "error");
  return fill(
      R"(<tr><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>)"
      R"(<tr><td></td><td colspan="6"><details><summary class="muted">report</summary>)"
      R"(<pre>{}</pre></details></td></tr>)",
      rep.seq, time_cell(rep.received, now), or_dash(str(r, "reason")), slots, or_dash(update),
      or_dash(str(member(r, "health"), "result")), error_cell(error),
      r.is_discarded() ? rep.body : r.dump(2, ' ', false, json::error_handler_t::replace));
}

}  // namespace

std::string document(const std::string& title, const Viewer& viewer, const Markup& body) {
  Markup bar_right;
  if (!viewer.name.empty())
    bar_right =
        fill(R"(<nav><a href="/">Fleet</a><a href="/devices">Devices</a></nav>)"
             R"(<form method="post" action="/logout"><input type="hidden" name="csrf" value="{}">)"
             R"(<span>{}</span><button type="submit">Log out</button></form>)",
             viewer.csrf, viewer.name);
  return fill(
             "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             R"(<meta name="viewport" content="width=device-width,initial-scale=1">)"
             R"(<title>{} · edgeforge fleet</title><link rel="icon" href="data:,">)"
             R"(<style>{}</style></head><body><header><a class="brand" href="/">edgeforge )"
             R"(fleet</a>{}</header><main>{}</main></body></html>)",
             title, Markup(html::Pattern<0>(kStyle)), bar_right, body)
      .str();
}

Markup login(const std::string& name, const std::string& message) {
  return fill(
      R"(<section class="login"><h1>Log in</h1>{})"
      R"(<form method="post" action="/login"><label for="operator">Operator</label>)"
      R"(<input id="operator" name="operator" value="{}" autocomplete="username" maxlength="128">)"
      R"(<label for="secret">Token or password</label>)"
      R"(<input id="secret" name="secret" type="password" autocomplete="current-password")"
      R"( required maxlength="1024"><button type="submit">Log in</button></form>)"
      R"(<p class="muted">A token logs in its operator with or without the name; a )"
      R"(password needs the name.</p></section>)",
      message.empty() ? Markup() : fill(R"(<p class="err" id="login-error">{}</p>)", message),
      name);
}

Markup fleet(const json& rollup, const Result<json>* channels, const Viewer& viewer,
             UnixSeconds now) {
  const json& states = member(rollup, "byState");
  const json& phases = member(rollup, "byPhase");
  Markup tiles = fill(R"(<div class="tiles">)");
  tiles += tile("devices", num(rollup, "devices"), "devices");
  for (const char* s : {"ready", "unpaired", "provisioned"})
    tiles += tile(std::string("state.") + s, num(states, s), s);
  for (const char* p : {"updated", "updating", "pending", "waiting-window", "failed", "rolled-back",
                        "not-in-plan", "no-release", "no-channel", "unknown"}) {
    const bool main = std::string_view(p) == "updated" || std::string_view(p) == "pending" ||
                      std::string_view(p) == "failed";
    if (main || num(phases, p) > 0)
      tiles += tile(std::string("phase.") + p, num(phases, p), p,
                    std::string_view(p) == "failed" || std::string_view(p) == "rolled-back");
  }
  tiles += tile("silent", num(rollup, "silent"), "silent", true);
  tiles += fill("</div>");
  return fill(
      R"(<h1>Fleet <span class="muted" style="font-size:13px;font-weight:400">at {}</span></h1>)"
      "{}{}{}{}{}{}",
      format_utc(now), tiles, rollouts(member(rollup, "channels")),
      channels_section(channels, viewer), failing_section(rollup), silent_section(rollup),
      tags_section(rollup));
}

Markup device(const Device& d, const std::vector<Registry::Report>& reports, UnixSeconds now) {
  const Placement& p = d.placement;
  Markup list;
  for (const auto& rep : reports) list += report_row(rep, now);
  return fill(
      R"(<h1>Device <span id="device-id">{}</span></h1><section><h2>Record</h2><dl>)"
      R"(<dt>State</dt><dd id="device-state">{}</dd><dt>Created</dt><dd>{}</dd>)"
      R"(<dt>Registered</dt><dd>{}</dd><dt>Last report</dt><dd>{}</dd>)"
      R"(<dt>Last sequence number</dt><dd>{}</dd></dl></section>)"
      R"(<section><h2>Placement</h2><dl><dt>Channel</dt><dd>{}</dd><dt>Release</dt><dd>{}</dd>)"
      R"(<dt>Running</dt><dd>{}</dd><dt>Wave</dt><dd>{}</dd>)"
      R"(<dt>Phase</dt><dd id="device-phase">{}</dd><dt>Since</dt><dd>{}</dd>)"
      R"(<dt>Error</dt><dd id="device-error" class="err">{}</dd><dt>Tags</dt><dd>{}</dd></dl>)"
      R"(</section><section><h2>Last reports <span class="muted">({})</span></h2>)"
      R"(<table><tr><th class="n">Seq</th><th>Received</th><th>Reason</th><th>Slots)"
      R"( (* booted)</th><th>Update</th><th>Health</th><th>Error</th></tr>{}</table></section>)",
      d.id, device_state_name(d.state), time_cell(d.created, now), time_cell(d.registered, now),
      time_cell(d.last_report, now), d.last_seq, or_dash(p.channel), or_dash(p.release),
      or_dash(p.running), or_dash(p.wave), p.phase,
      d.phase_since ? time_cell(d.phase_since, now) : or_dash(""), p.error, tags(p.tags),
      reports.size(), list);
}

Markup devices(const std::vector<Device>& all, size_t limit, UnixSeconds now) {
  Markup rows;
  for (size_t i = 0; i < all.size() && i < limit; ++i) {
    const Device& d = all[i];
    const Placement& p = d.placement;
    rows += fill(R"(<tr data-device="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>)"
                 R"(<td>{}</td><td>{}</td><td>{}</td>{}</tr>)",
                 d.id, device_link(d.id), device_state_name(d.state), or_dash(p.channel),
                 or_dash(p.release), or_dash(p.running), or_dash(p.wave), p.phase,
                 time_cell(d.last_report, now), error_cell(p.error));
  }
  return fill(
      R"(<h1>Devices <span class="muted" style="font-size:13px;font-weight:400">{}</span></h1>)"
      R"(<section><table><tr><th>Device</th><th>State</th><th>Channel</th><th>Release</th>)"
      R"(<th>Running</th><th>Wave</th><th>Phase</th><th>Last report</th><th>Error</th></tr>{})"
      R"(</table></section>)",
      all.size() > limit
          ? "the first " + std::to_string(limit) + " of " + std::to_string(all.size())
          : std::to_string(all.size()) + " in all",
      rows);
}

Markup message(const std::string& heading, const std::string& text) {
  return fill(R"(<section><h1>{}</h1><p id="message">{}</p><p><a href="/">Back to the fleet</a>)"
              R"(</p></section>)",
              heading, text);
}

}  // namespace ef::fleet::pages
