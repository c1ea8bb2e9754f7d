// edgeforge inspect: a squashfs image's entries, a disk image's partitions
// or a bundle's manifest; one file from any of them.
#include <iostream>
#include <memory>

#include "cli/bundle_inspect.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/inspect.hpp"
#include "cli/options.hpp"
#include "iso/disk_reader.hpp"

namespace ef::cli {
namespace {

struct InspectArgs {
  std::string image;
  std::string cat;
  std::string partition;
  std::string keyring;
  OutputStyle style;
};

Result<void> inspect(const InspectArgs& a) {
  if (is_bundle_file(a.image)) {
    if (!a.cat.empty() || !a.partition.empty()) {
      return Error(Errc::invalid_argument, std::string(a.cat.empty() ? "--partition" : "--cat") +
                                               " reads images and disks; " + a.image +
                                               " is a bundle");
    }
    return inspect_bundle(a.image, a.keyring, a.style.json, std::cout);
  }
  if (iso::is_gpt_disk(a.image))
    return inspect_disk(a.image, {a.partition, a.cat, a.style.json}, std::cout);
  if (!a.partition.empty()) {
    return Error(Errc::invalid_argument,
                 "--partition reads disk images; " + a.image + " is not one (no GPT)");
  }
  return a.cat.empty() ? inspect_list(a.image, a.style.json, std::cout)
                       : inspect_cat(a.image, a.cat, std::cout);
}

}  // namespace

cmdline::Command add_inspect_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand(
      "inspect",
      "List a squashfs image's entries, a disk image's partitions or a bundle's manifest; print "
      "one file");
  cmd->add_option("image", a->image, "Squashfs image, raw disk image or bundle (.efb)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--keyring", a->keyring, "Bundles: say which keyring key matches each signature");
  cmd->add_option("--cat", a->cat,
                  "Print this file from the image (e.g. /etc/os-release); for a disk image, from "
                  "the --partition (default: its ESP, e.g. /grub/grubenv)");
  cmd->add_option("--partition", a->partition,
                  "Disk images: list (or --cat from) this partition: esp, a, b, persistent "
                  "(or its GPT name)");
  add_output_style(cmd, a->style, "List entries (or the bundle) as JSON");
  return {cmd, [a] {
            auto r = inspect(*a);
            return r ? 0 : fail(r.error().with_context(a->image), a->style.json);
          }};
}

}  // namespace ef::cli
