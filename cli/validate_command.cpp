// edgeforge validate: check a profile and its inputs, build nothing.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "builder/build/build.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"

namespace ef::cli {
namespace {

struct ValidateArgs {
  std::string profile;
  CacheArgs cache;
  OutputStyle style;
};

int run_validate(const ValidateArgs& a) {
  auto p = build::validate_profile(a.profile, cache_options(a.cache));
  if (!p) return fail(p.error(), a.style.json);
  if (a.style.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"name", p->name},
                                 {"version", p->version},
                                 {"digest", p->digest}})
                     .dump(2)
              << "\n";
  } else if (!a.style.quiet) {
    std::cout << a.profile << ": ok (" << p->name << " " << p->version << ", " << p->layers.size()
              << " layer(s))\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_validate_command(CLI::App& app) {
  auto a = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand("validate", "Check a profile and its inputs without building");
  add_profile_option(cmd, a->profile);
  add_cache_options(cmd, a->cache, false);
  add_output_style(cmd, a->style);
  cmd->footer(
      "With --offline, every input the cache lacks is listed at once with its profile\n"
      "location, and nothing touches the network.");
  return {cmd, [a] { return run_validate(*a); }};
}

}  // namespace ef::cli
