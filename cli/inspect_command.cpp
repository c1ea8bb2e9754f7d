// edgeforge inspect: a squashfs image's entries, a disk image's partitions
// or a bundle's manifest; one file from any of them.
#include <iostream>
#include <memory>
#include <streambuf>

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
  bool sbom = false, provenance = false;
  OutputStyle style;
};

/// Takes and drops everything written to it (a stream over it stays good).
class DiscardBuf final : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

Result<void> inspect(const InspectArgs& a) {
  // -q: read everything, print nothing; the exit status says whether it reads.
  DiscardBuf discard;
  std::ostream null_stream(&discard);
  std::ostream& out = a.style.quiet ? null_stream : std::cout;
  if (a.sbom || a.provenance) {
    if (!is_bundle_file(a.image))
      return Error(Errc::invalid_argument,
                   std::string(a.sbom ? "--sbom" : "--provenance") + " reads bundles (.efb); " +
                       a.image + " is not one (the build wrote the documents beside the image)");
    return inspect_attachment(a.image, a.sbom ? "sbom" : "provenance", a.keyring, out);
  }
  if (is_bundle_file(a.image)) {
    if (!a.cat.empty() || !a.partition.empty()) {
      return Error(Errc::invalid_argument, std::string(a.cat.empty() ? "--partition" : "--cat") +
                                               " reads images and disks; " + a.image +
                                               " is a bundle");
    }
    return inspect_bundle(a.image, a.keyring, a.style.json, out);
  }
  if (iso::is_gpt_disk(a.image))
    return inspect_disk(a.image, {a.partition, a.cat, a.style.json}, out);
  if (!a.partition.empty()) {
    return Error(Errc::invalid_argument,
                 "--partition reads disk images; " + a.image + " is not one (no GPT)");
  }
  return a.cat.empty() ? inspect_list(a.image, a.style.json, out)
                       : inspect_cat(a.image, a.cat, out);
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
  auto* sbom = cmd->add_flag("--sbom", a->sbom,
                             "Bundles: print the image's SBOM (SPDX or CycloneDX JSON) the bundle "
                             "carries, checked against its signed manifest (and, with --keyring, "
                             "the signature)");
  cmd->add_flag("--provenance", a->provenance,
                "Bundles: print the build's provenance statement (in-toto, SLSA v1), checked "
                "the same way")
      ->excludes(sbom);
  add_output_style(cmd, a->style, "List entries (or the bundle) as JSON");
  cmd->footer("With -q nothing is printed: the exit status says whether the input reads.");
  return {cmd, [a] {
            auto r = inspect(*a);
            return r ? 0 : fail(r.error().with_context(a->image), a->style.json);
          }};
}

}  // namespace ef::cli
