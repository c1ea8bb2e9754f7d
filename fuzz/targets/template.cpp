// Pack value templates (Mustache): a pack's manifest text rendered with the
// values a profile gives. Input: the template, then "\n#@values\n" and the
// values as JSON (invalid JSON: no values).
#include <nlohmann/json.hpp>

#include "builder/node/template.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = ef::fuzz::split_parts(ef::fuzz::as_view(data, size), "\n#@values\n", 2);
  auto values = nlohmann::json::object();
  if (parts.size() == 2) {
    auto parsed = nlohmann::json::parse(parts[1], nullptr, false);
    if (!parsed.is_discarded()) values = std::move(parsed);
  }
  ef::fuzz::trace("render_template",
                  ef::node::render_template(std::string(parts[0]), values, "manifests/app.yaml"));
  return 0;
}
