#include "agent/state.hpp"

#include <nlohmann/json.hpp>
#include <system_error>

#include "util/atomic_file.hpp"
#include "util/json_fields.hpp"

namespace ef::agent {
namespace {

using nlohmann::json;

json slot_json(const SlotRecord& s) {
  return {{"health", slot_health_name(s.health)},
          {"product", s.product},
          {"version", s.version},
          {"imageSha256", s.image_sha256},
          {"minVersion", s.min_version},
          {"sbomSha256", s.sbom_sha256}};
}

std::optional<SlotHealth> parse_health(const std::string& s) {
  for (SlotHealth h : {SlotHealth::empty, SlotHealth::trial, SlotHealth::good, SlotHealth::bad}) {
    if (s == slot_health_name(h)) return h;
  }
  return std::nullopt;
}

SlotRecord slot_from(const json& j) {
  SlotRecord s;
  s.health = parse_health(j.at("health").get<std::string>()).value_or(SlotHealth::bad);
  s.product = j.at("product").get<std::string>();
  s.version = j.at("version").get<std::string>();
  s.image_sha256 = j.at("imageSha256").get<std::string>();
  s.min_version = j.value("minVersion", std::string());
  // Written by agents since the SBOM; a string or absent.
  if (auto it = j.find("sbomSha256"); it != j.end() && it->is_string())
    s.sbom_sha256 = it->get<std::string>();
  return s;
}

// The one table of phase names: the journal's strings.
constexpr std::pair<OperationPhase, const char*> kPhaseNames[] = {
    {OperationPhase::writing, "writing"},
    {OperationPhase::verifying, "verifying"},
    {OperationPhase::boot_files, "boot-files"},
    {OperationPhase::switching, "switching"},
    {OperationPhase::done, "done"},
    {OperationPhase::failed, "failed"},
};

}  // namespace

const char* operation_phase_name(OperationPhase phase) {
  for (const auto& [p, name] : kPhaseNames)
    if (p == phase) return name;
  return "failed";
}

std::optional<OperationPhase> parse_operation_phase(std::string_view name) {
  for (const auto& [p, text] : kPhaseNames)
    if (name == text) return p;
  return std::nullopt;
}

const char* slot_health_name(SlotHealth h) {
  switch (h) {
    case SlotHealth::empty:
      return "empty";
    case SlotHealth::trial:
      return "trial";
    case SlotHealth::good:
      return "good";
    case SlotHealth::bad:
      return "bad";
  }
  return "bad";
}

Result<AgentState> load_state(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return AgentState{};
  EF_ASSIGN(std::string text, read_file(path));
  json j = json::parse(text, nullptr, false);
  auto malformed = [&](const std::string& why) {
    return Error(Errc::invalid_argument,
                 path.string() + ": agent state is " + why +
                     "; move it away to start over (slots are then treated as empty)");
  };
  if (j.is_discarded() || !j.is_object()) return malformed("not JSON");
  try {
    if (json_integer<int>(j.at("formatVersion")) != 1)
      return malformed("of an unknown format version");
    AgentState s;
    s.a = slot_from(j.at("slots").at("A"));
    s.b = slot_from(j.at("slots").at("B"));
    s.floor = j.at("floor").get<std::string>();
    if (!j.at("operation").is_null()) {
      const json& o = j.at("operation");
      auto phase = parse_operation_phase(o.at("phase").get<std::string>());
      s.operation =
          Operation{o.at("kind").get<std::string>(),    phase.value_or(OperationPhase::switching),
                    o.at("slot").get<std::string>(),    o.at("bundle").get<std::string>(),
                    o.at("version").get<std::string>(), o.at("error").get<std::string>()};
    }
    return s;
  } catch (const json::exception& e) {
    return malformed(std::string("incomplete (") + e.what() + ")");
  }
}

Result<void> save_state(const std::filesystem::path& path, const AgentState& s) {
  json op = nullptr;
  if (s.operation) {
    const Operation& o = *s.operation;
    op = {{"kind", o.kind},       {"phase", operation_phase_name(o.phase)},
          {"slot", o.slot},       {"bundle", o.bundle},
          {"version", o.version}, {"error", o.error}};
  }
  json j = {{"formatVersion", 1},
            {"slots", {{"A", slot_json(s.a)}, {"B", slot_json(s.b)}}},
            {"floor", s.floor},
            {"operation", op}};
  return write_file_atomic(path, j.dump(2) + "\n");
}

bool recover_interrupted(AgentState& s) {
  if (!s.operation || s.operation->finished()) return false;
  Operation& o = *s.operation;
  if (o.phase == OperationPhase::switching) return false;  // the boot state decides
  if (o.slot == "A" || o.slot == "B") {
    if (o.kind == "install" || o.kind == "upgrade") s.slot(o.slot) = SlotRecord{};
  }
  o.error = std::string("interrupted during ") + operation_phase_name(o.phase) +
            " (power cut or crash); run it again";
  o.phase = OperationPhase::failed;
  return true;
}

}  // namespace ef::agent
