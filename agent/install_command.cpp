// edgeforge-agent install: from the installer medium onto a disk.

#include <sys/reboot.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "agent/command_support.hpp"
#include "agent/commands.hpp"
#include "agent/install.hpp"
#include "agent/install_target.hpp"
#include "util/subprocess.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;

struct InstallArgs {
  std::string target, site, then = "none";
  std::string source = kDefaultMedium;
  bool wipe = false, auto_mode = false;
};

void say(const std::string& line) {
  std::cout << "edgeforge-agent install: " << line << std::endl;
}

// Reboots or powers off through systemd when it runs, else directly.
int finish(const std::string& then) {
  if (then == "none") return 0;
  say(then == "reboot" ? "rebooting" : "powering off");
  ::sync();
  std::error_code ec;
  if (fs::exists("/run/systemd/system", ec)) {
    auto r = run_process({"systemctl", "--no-block", then});
    if (r && r->success()) return 0;
  }
  if (::reboot(then == "reboot" ? RB_AUTOBOOT : RB_POWER_OFF) != 0)
    return fail(errno_error(Errc::io, then + " failed", errno));
  return 0;
}

int run(InstallArgs& a) {
  InstallOptions o;
  o.source = a.source;
  o.site = a.site;
  o.wipe = a.wipe;
  o.log = say;
  std::string then = a.then;
  if (a.auto_mode) {
    auto site = load_install_site(o.source, o.site);
    if (!site) return fail(site.error());
    if (!*site || !(*site)->install || !(*site)->install->unattended) {
      say("the site file does not ask for an unattended install (install.unattended: true); "
          "nothing to do");
      return 0;
    }
    const auto& s = *(*site)->install;
    o.unattended = true;
    o.wipe = s.wipe;
    then = s.then;
    if (!a.target.empty()) {
      o.target = a.target;
    } else if (s.target == "auto") {
      auto picked = pick_auto_target(list_disks(o.sys_root), disk_holding(o.source, o.sys_root));
      if (!picked) return fail(picked.error());
      o.target = *picked;
      say("target auto: " + o.target.string());
    } else {
      o.target = s.target;
    }
  } else if (a.target.empty()) {
    fail(Error(Errc::invalid_argument,
               "install: --target is required (or --auto); see 'edgeforge-agent install --help'"));
    return cmdline::kExitUsage;
  } else {
    o.target = a.target;
  }
  auto r = install(o);
  if (!r) return fail(r.error());
  return finish(then);
}

}  // namespace

cmdline::Command add_install_command(CLI::App& app) {
  auto args = std::make_shared<InstallArgs>();
  auto* cmd =
      app.add_subcommand("install", "Install edgeforge from the installer medium onto a disk");
  cmd->add_option("--target", args->target,
                  "Whole disk to install onto (e.g. /dev/sda), or a disk image file");
  cmd->add_flag("--wipe", args->wipe, "Erase a target that holds partitions or data");
  cmd->add_option("--site", args->site,
                  "Site file to install (default: the medium's /edgeforge/site/site.yaml, if any)");
  cmd->add_option("--source", args->source,
                  "Root of the installer medium (default: " + args->source + ")");
  cmd->add_option("--then", args->then,
                  "After installing: reboot, poweroff or none (default: none)")
      ->check(CLI::IsMember({"reboot", "poweroff", "none"}));
  cmd->add_flag(
      "--auto", args->auto_mode,
      "Unattended: take target, wipe and then from the site file's install: section; do nothing "
      "unless it says unattended: true");
  cmd->footer(
      "Writes the layout of docs/disk-layout.md: GPT, the ESP (GRUB, grub.cfg, grubenv, slot A's\n"
      "kernel), the OS image into slot A (read back and checked), the persistent partition with\n"
      "the agent's state and the site configuration. A disk holding partitions or data is\n"
      "refused unless --wipe; the disk the medium is on is always refused; an unattended install\n"
      "never replaces an existing edgeforge installation.");
  return {cmd, [args] { return run(*args); }};
}

}  // namespace ef::agent
