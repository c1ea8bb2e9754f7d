#include "device/slot_state.hpp"

namespace ef::device {
namespace {

Result<int> parse_tries(const GrubEnv& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return Error(Errc::image, "grubenv: " + name + " is missing");
  const std::string& v = it->second;
  if (v.size() != 1 || v[0] < '0' || v[0] > '0' + kMaxSlotTries)
    return Error(Errc::image,
                 "grubenv: " + name + "='" + v + "' is not 0.." + std::to_string(kMaxSlotTries));
  return v[0] - '0';
}

Result<bool> parse_ok(const GrubEnv& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return Error(Errc::image, "grubenv: " + name + " is missing");
  if (it->second != "0" && it->second != "1")
    return Error(Errc::image, "grubenv: " + name + "='" + it->second + "' is not 0 or 1");
  return it->second == "1";
}

}  // namespace

Result<GrubEnv> slot_state_env(const SlotState& s) {
  if (s.order != "A B" && s.order != "B A")
    return Error(Errc::invalid_argument, "slot order '" + s.order + "' is not \"A B\" or \"B A\"");
  for (int tries : {s.a_tries, s.b_tries})
    if (tries < 0 || tries > kMaxSlotTries)
      return Error(Errc::invalid_argument, "slot tries " + std::to_string(tries) + " outside 0.." +
                                               std::to_string(kMaxSlotTries));
  return GrubEnv{{"ORDER", s.order},
                 {"A_OK", s.a_ok ? "1" : "0"},
                 {"A_TRY", std::to_string(s.a_tries)},
                 {"B_OK", s.b_ok ? "1" : "0"},
                 {"B_TRY", std::to_string(s.b_tries)}};
}

Result<SlotState> slot_state_from_env(const GrubEnv& env) {
  SlotState s;
  auto order = env.find("ORDER");
  if (order == env.end()) return Error(Errc::image, "grubenv: ORDER is missing");
  s.order = order->second;
  EF_ASSIGN(s.a_ok, parse_ok(env, "A_OK"));
  EF_ASSIGN(s.b_ok, parse_ok(env, "B_OK"));
  EF_ASSIGN(s.a_tries, parse_tries(env, "A_TRY"));
  EF_ASSIGN(s.b_tries, parse_tries(env, "B_TRY"));
  if (s.order != "A B" && s.order != "B A")
    return Error(Errc::image, "grubenv: ORDER='" + s.order + "' is not \"A B\" or \"B A\"");
  return s;
}

}  // namespace ef::device
