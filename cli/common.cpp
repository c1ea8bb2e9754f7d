#include "cli/common.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

namespace ef::cli {

int fail(const Error& e, bool json) {
  if (json) {
    nlohmann::json out = {{"ok", false},
                          {"error", {{"code", errc_name(e.code())}, {"message", e.message()}}}};
    std::cout << out.dump(2) << "\n";
  }
  std::cerr << "edgeforge: error: " << e.message() << "\n";
  return 1;
}

void add_json_flag(CLI::App* cmd, bool& json) {
  cmd->add_flag("--json", json, "Print a machine-readable result on stdout");
}

}  // namespace ef::cli
