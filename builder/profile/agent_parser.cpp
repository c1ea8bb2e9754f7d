// spec.agent: whether and how edgeforge-agent goes into the image (its
// boot tries, extra trusted keys, revoked key IDs and health checks).
#include <algorithm>
#include <string_view>

#include "builder/profile/input_parser.hpp"
#include "builder/profile/profile_parser.hpp"
#include "builder/profile/schema_node.hpp"
#include "util/duration.hpp"

namespace fs = std::filesystem;

namespace ef::profile::detail {
namespace {

// A day: longer budgets hide a device that never becomes healthy.
constexpr int64_t kMaxTimeoutSeconds = 86400;

Result<std::vector<fs::path>> parse_keyring(const SchemaNode& node, const fs::path& dir) {
  EF_ASSIGN(auto items, node.items());
  std::vector<fs::path> out;
  for (const auto& item : items) {
    EF_ASSIGN(auto text, item.as_string());
    if (text.empty()) return item.error("must not be empty");
    fs::path path = resolve_path(dir, text);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      return item.error("public key file not found: " + path.string(), Errc::not_found);
    out.push_back(std::move(path));
  }
  return out;
}

// No std::regex here: GCC 12's <regex> trips -Wmaybe-uninitialized in the
// sanitizer build.
bool is_key_id(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// name.service, name@instance.timer, ...: systemd's unit name characters.
bool is_unit_name(std::string_view s) {
  static constexpr std::string_view kSuffixes[] = {".service", ".target", ".mount",
                                                   ".socket",  ".timer",  ".path"};
  auto suffix = std::find_if(std::begin(kSuffixes), std::end(kSuffixes),
                             [&](std::string_view x) { return s.ends_with(x); });
  if (suffix == std::end(kSuffixes) || s.size() == suffix->size()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '_' || c == '.' || c == '@' || c == '\\' || c == '-';
  });
}

Result<std::vector<std::string>> parse_revoked(const SchemaNode& node) {
  EF_ASSIGN(auto items, node.items());
  std::vector<std::string> out;
  for (const auto& item : items) {
    EF_ASSIGN(auto id, item.as_string());
    if (!is_key_id(id))
      return item.error(
          "expected a key ID (64 lower-case hex digits, as `edgeforge keygen` "
          "prints), got \"" +
          id + "\"");
    out.push_back(std::move(id));
  }
  return out;
}

Result<std::vector<std::string>> parse_units(const SchemaNode& node) {
  EF_ASSIGN(auto items, node.items());
  std::vector<std::string> out;
  for (const auto& item : items) {
    EF_ASSIGN(auto name, item.as_string());
    if (!is_unit_name(name))
      return item.error("expected a systemd unit name like k3s.service, got \"" + name + "\"");
    out.push_back(std::move(name));
  }
  return out;
}

Result<std::vector<AgentHealthCommand>> parse_commands(const SchemaNode& node) {
  EF_ASSIGN(auto items, node.items());
  std::vector<AgentHealthCommand> out;
  for (const auto& item : items) {
    EF_TRY(item.expect_map({"run", "timeoutSeconds"}));
    AgentHealthCommand c;
    c.loc = item.loc();
    EF_ASSIGN(auto run, item.require("run"));
    EF_ASSIGN(c.run, run.as_string());
    if (c.run.empty() || c.run.find('\n') != std::string::npos)
      return run.error("expected a one-line command");
    if (auto t = item.get("timeoutSeconds")) {
      EF_ASSIGN(c.timeout_seconds, t->as_int(1, kMaxTimeoutSeconds));
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<void> parse_health(const SchemaNode& node, PartialAgent& out) {
  EF_TRY(node.expect_map({"timeoutSeconds", "units", "commands"}));
  if (auto n = node.get("timeoutSeconds")) {
    EF_ASSIGN(out.health_timeout_seconds, n->as_int(1, kMaxTimeoutSeconds));
  }
  if (auto n = node.get("units")) {
    EF_ASSIGN(out.health_units, parse_units(*n));
  }
  if (auto n = node.get("commands")) {
    EF_ASSIGN(out.health_commands, parse_commands(*n));
  }
  return Ok{};
}

// A poll interval: a week at most (a channel expires in 30 days by default).
Result<void> parse_updates(const SchemaNode& node, const fs::path& dir, PartialAgent& out) {
  EF_TRY(node.expect_map({"interval", "jitter", "keyring", "rolloutKeyring"}));
  auto duration = [](const SchemaNode& n, int64_t min,
                     int64_t max) -> Result<std::chrono::seconds> {
    EF_ASSIGN(auto text, n.as_string());
    auto d = parse_duration(text);
    if (!d) return n.error(d.error().message());
    if (d->count() < min || d->count() > max)
      return n.error("expected a duration from " + format_duration(std::chrono::seconds(min)) +
                     " to " + format_duration(std::chrono::seconds(max)) + ", got \"" + text +
                     "\"");
    return *d;
  };
  if (auto n = node.get("interval")) {
    EF_ASSIGN(out.update_interval, duration(*n, 60, 7 * 86400));
  }
  if (auto n = node.get("jitter")) {
    EF_ASSIGN(out.update_jitter, duration(*n, 0, 86400));
  }
  if (auto n = node.get("keyring")) {
    EF_ASSIGN(out.channel_keyring, parse_keyring(*n, dir));
  }
  if (auto n = node.get("rolloutKeyring")) {
    EF_ASSIGN(out.rollout_keyring, parse_keyring(*n, dir));
  }
  return Ok{};
}

}  // namespace

Result<void> parse_agent(const SchemaNode& node, const fs::path& dir, PartialAgent& out) {
  EF_TRY(node.expect_map({"enabled", "tries", "keyring", "revoked", "health", "updates"}));
  if (auto n = node.get("enabled")) {
    EF_ASSIGN(out.enabled, n->as_bool());
  }
  if (auto n = node.get("tries")) {
    // grubenv counters are if/elif chains in grub.cfg: at most 3 tries.
    EF_ASSIGN(out.tries, n->as_int(1, 3));
  }
  if (auto n = node.get("keyring")) {
    EF_ASSIGN(out.keyring, parse_keyring(*n, dir));
  }
  if (auto n = node.get("revoked")) {
    EF_ASSIGN(out.revoked, parse_revoked(*n));
  }
  if (auto n = node.get("health")) EF_TRY(parse_health(*n, out));
  if (auto n = node.get("updates")) EF_TRY(parse_updates(*n, dir, out));
  return Ok{};
}

}  // namespace ef::profile::detail
