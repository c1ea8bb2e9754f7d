// edgeforge render-site: a site.yaml into the files a node reads.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "device/site.hpp"
#include "util/atomic_file.hpp"

namespace ef::cli {
namespace {

struct RenderSiteArgs {
  std::string site_file;
  std::string root;
  std::string distribution = "k3s";
  OutputStyle style;
};

int run_render_site(const RenderSiteArgs& a) {
  auto text = read_file(a.site_file);
  if (!text) return fail(text.error(), a.style.json);
  auto s = site::parse_site(*text, a.site_file);
  if (!s) return fail(s.error(), a.style.json);
  auto files = site::render_site(*s, site::registry_target_for(a.distribution));
  auto written = site::write_site_files(files, a.root);
  if (!written) return fail(written.error(), a.style.json);
  // Paths only: contents may carry credentials.
  if (a.style.json) {
    nlohmann::json paths = nlohmann::json::array();
    for (const auto& f : files) paths.push_back(f.path);
    std::cout << nlohmann::json({{"ok", true}, {"root", a.root}, {"files", paths}}).dump(2) << "\n";
  } else if (!a.style.quiet) {
    for (const auto& f : files) std::cout << f.path << "\n";
  }
  return 0;
}

}  // namespace

cmdline::Command add_render_site_command(CLI::App& app) {
  auto a = std::make_shared<RenderSiteArgs>();
  auto* cmd = app.add_subcommand(
      "render-site", "Render a site.yaml into the files a node reads (at install time)");
  cmd->add_option("--site", a->site_file, "Site file (docs/site-config.md)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--root", a->root, "Root directory to write under (e.g. /mnt/target)")
      ->required();
  cmd->add_option("--distribution", a->distribution,
                  "Who reads registry settings: k3s (registries.yaml), kubeadm "
                  "(containerd certs.d) or none (default: k3s)")
      ->check(CLI::IsMember({"k3s", "kubeadm", "none"}));
  add_output_style(cmd, a->style, "Print the written paths as JSON on stdout");
  cmd->footer("Prints the paths it wrote (never their contents: they may hold secrets).");
  return {cmd, [a] { return run_render_site(*a); }};
}

}  // namespace ef::cli
