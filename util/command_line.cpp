#include "util/command_line.hpp"

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

namespace ef::cmdline {
namespace {

bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) return false;
    if (std::strcmp(argv[i], "--json") == 0) return true;
  }
  return false;
}

/// The subcommand the parser had reached when it failed, if any.
const CLI::App* parsed_command(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands({}))
    if (sub->parsed()) return sub;
  return nullptr;
}

std::string command_names(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!names.empty()) names += ", ";
    names += sub->get_name();
  }
  return names;
}

int usage_error(const Program& p, const CLI::App* command, const std::string& message, bool json) {
  std::string name = command ? command->get_name() : "";
  std::string line = (name.empty() ? "" : name + ": ") + message + "; see '" + p.name +
                     (name.empty() ? "" : " " + name) + " --help'";
  report_failure(p.name, Error(Errc::invalid_argument, line), json);
  return kExitUsage;
}

}  // namespace

int report_failure(std::string_view program, const Error& e, bool json) {
  if (json) {
    nlohmann::json out = {{"ok", false},
                          {"error", {{"code", errc_name(e.code())}, {"message", e.message()}}}};
    std::cout << out.dump(2) << "\n" << std::flush;
  }
  std::cerr << program << ": error: " << e.message() << "\n";
  return kExitFailed;
}

std::string exit_status_help(bool with_marked_bad) {
  std::string s =
      "Exit status: 0 done; 1 failed (the error line says why); 2 the command line is\n"
      "wrong (nothing was done)";
  if (with_marked_bad) s += "; 3 boot --no-reboot marked the slot on trial bad";
  return s + ".";
}

int run_program(const Program& p, int argc, char** argv) {
  CLI::App app{p.description, p.name};
  app.set_version_flag("--version", p.name + " " + p.version);
  app.require_subcommand(0, 1);  // unknown words then get CLI11's "not expected" message
  app.fallthrough();             // program options (-v) may follow the command name
  std::function<void()> after_parse;
  if (p.global_options) after_parse = p.global_options(app);
  std::vector<Command> commands;
  commands.reserve(p.commands.size());
  for (const auto& factory : p.commands) commands.push_back(factory(app));
  // Set last: subcommands copy their parent's footer when they are created.
  app.footer("Run '" + p.name + " COMMAND --help' for a command's options.\n" +
             exit_status_help(p.exits_marked_bad));

  const bool json = wants_json(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(p, parsed_command(app), e.what(), json);
  }
  if (after_parse) after_parse();
  try {
    for (const Command& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::exception& e) {
    return report_failure(
        p.name, Error(Errc::internal, std::string("unexpected failure: ") + e.what()), json);
  }
  return usage_error(p, nullptr, "a command is required: " + command_names(app), json);
}

}  // namespace ef::cmdline
