#include "cli/app.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/build/build.hpp"
#include "builder/build/bundle_output.hpp"
#include "builder/cluster/provision.hpp"
#include "builder/site/site.hpp"
#include "cli/common.hpp"
#include "cli/inspect.hpp"
#include "cli/progress.hpp"
#include "cli/signing_commands.hpp"
#include "iso/disk_reader.hpp"
#include "iso/vm.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

#ifndef EF_VERSION
#define EF_VERSION "0.0.0"
#endif

namespace ef::cli {

namespace {

struct CommonOptions {
  std::string cache_dir;
  bool offline = false;
  bool json = false;
  bool quiet = false;
  std::string artifact_mirror;
};

// SOURCE_DATE_EPOCH, when set, must be a plain non-negative integer.
Result<std::optional<int64_t>> source_date_epoch() {
  const char* v = std::getenv("SOURCE_DATE_EPOCH");
  if (v == nullptr || *v == '\0') return std::optional<int64_t>{};
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || n < 0)
    return Error(Errc::invalid_argument, std::string("SOURCE_DATE_EPOCH='") + v +
                                             "' is not a non-negative integer number of seconds");
  return std::optional<int64_t>(n);
}

fetch::CacheOptions cache_options(const CommonOptions& c) {
  fetch::CacheOptions o;
  o.dir = c.cache_dir.empty() ? fetch::default_cache_dir() : std::filesystem::path(c.cache_dir);
  o.offline = c.offline;
  return o;
}

/// What `build --sign-key` asks for.
struct SignOptions {
  std::vector<std::string> keys;
  signing::Passphrase passphrase;
};

int run_build(const std::string& profile, const std::string& output, unsigned workers,
              const std::vector<std::string>& formats, const CommonOptions& c,
              const SignOptions& sign, const std::string& agent_binary) {
  auto sde = source_date_epoch();
  if (!sde) return fail(sde.error(), c.json);
  build::BuildOptions o;
  o.profile = profile;
  o.output_dir = output;
  o.cache = cache_options(c);
  o.workers = workers;
  o.formats = formats;
  o.source_date_epoch = *sde;
  o.artifact_mirror = c.artifact_mirror;
  o.agent_binary = agent_binary;
  o.sign_keys = sign.keys;
  o.passphrase = sign.passphrase;
  ProgressDisplay display(!c.quiet && !c.json && ::isatty(STDERR_FILENO));
  o.progress = [&](const build::Progress& p) { display.update(p); };
  auto result = build::build_image(o);
  display.finish();
  if (!result) return fail(result.error(), c.json);
  const auto& bundle = result->bundle;  // build_image signs with o.sign_keys
  if (c.json) {
    nlohmann::json out = {{"ok", true},
                          {"image", result->image.string()},
                          {"manifest", result->manifest.string()},
                          {"sha256", result->image_sha256},
                          {"size", result->image_size},
                          {"entries", result->manifest_json["entries"]},
                          {"warnings", result->manifest_json["warnings"]}};
    if (bundle) out["bundle"] = bundle->bundle.string();
    out["outputs"] = nlohmann::json::array();
    for (const auto& f : result->outputs) out["outputs"].push_back(f.string());
    std::cout << out.dump(2) << "\n";
  } else if (!c.quiet) {
    for (const auto& w : result->manifest_json["warnings"])
      spdlog::warn("{}", w.get<std::string>());
    std::cout << result->image.string() << "  " << result->image_size << " bytes  sha256 "
              << result->image_sha256 << "\n"
              << result->manifest.string() << "\n";
    for (const auto& f : result->outputs) std::cout << f.string() << "\n";
    if (bundle) {
      std::cout << bundle->bundle.string() << "  verity root "
                << bundle->manifest.verity.root_hash_hex << "\n";
    }
  }
  return 0;
}

int run_validate(const std::string& profile, const CommonOptions& c) {
  auto p = build::validate_profile(profile, cache_options(c));
  if (!p) return fail(p.error(), c.json);
  if (c.json) {
    std::cout << nlohmann::json({{"ok", true},
                                 {"name", p->name},
                                 {"version", p->version},
                                 {"digest", p->digest}})
                     .dump(2)
              << "\n";
  } else if (!c.quiet) {
    std::cout << profile << ": ok (" << p->name << " " << p->version << ", " << p->layers.size()
              << " layer(s))\n";
  }
  return 0;
}

int run_provision_script(const std::string& profile, const std::string& output,
                         const CommonOptions& c) {
  fetch::Cache cache(cache_options(c));
  auto b = cluster::write_provision_script(profile, cache, c.artifact_mirror, output);
  if (!b) return fail(b.error(), c.json);
  if (c.json) {
    std::cout << nlohmann::json({{"ok", true}, {"script", b->script.string()}, {"files", b->files}})
                     .dump(2)
              << "\n";
  } else if (!c.quiet) {
    std::cout << b->script.string() << "  (" << b->files << " file(s) in " << b->files_dir.string()
              << ")\n";
  }
  return 0;
}

int run_render_site(const std::string& site_file, const std::string& root,
                    const std::string& distribution, bool quiet) {
  auto text = read_file(site_file);
  if (!text) return fail(text.error(), false);
  auto s = site::parse_site(*text, site_file);
  if (!s) return fail(s.error(), false);
  auto target = distribution == "k3s"    ? site::RegistryTarget::k3s
                : distribution == "none" ? site::RegistryTarget::none
                                         : site::RegistryTarget::containerd;
  auto files = site::render_site(*s, target);
  auto written = site::write_site_files(files, root);
  if (!written) return fail(written.error(), false);
  // Paths only: contents may carry credentials.
  if (!quiet)
    for (const auto& f : files) std::cout << f.path << "\n";
  return 0;
}

int run_vm(const std::string& image, bool bios, unsigned memory, bool snapshot, bool usb) {
  iso::VmSpec vm;
  vm.image = image;
  vm.usb_stick = usb;
  vm.firmware = bios ? iso::Firmware::bios : iso::Firmware::uefi;
  vm.memory_mib = memory;
  vm.snapshot = snapshot;
  vm.work_dir =
      std::filesystem::temp_directory_path() / ("edgeforge-vm-" + std::to_string(::getpid()));
  auto argv = iso::qemu_command(vm);
  if (!argv) return fail(argv.error(), false);
  std::cerr << "edgeforge: " << format_command(*argv) << "\n"
            << "edgeforge: serial console on this terminal; Ctrl-A X quits QEMU\n";
  ProcessOptions po;
  po.capture_stderr = false;
  po.stdin_file = "/dev/stdin";  // the console is interactive
  auto res = run_process(*argv, po);
  std::error_code ec;
  std::filesystem::remove_all(vm.work_dir, ec);
  if (!res) return fail(res.error(), false);
  return res->success() ? 0 : 1;
}

int run_inspect(const std::string& image, const std::string& cat, const std::string& partition,
                const std::string& keyring, bool json) {
  if (is_bundle_file(image)) {
    if (!cat.empty() || !partition.empty()) {
      return fail(
          Error(Errc::invalid_argument, std::string(cat.empty() ? "--partition" : "--cat") +
                                            " reads images and disks; " + image + " is a bundle"),
          false);
    }
    auto r = inspect_bundle(image, keyring, json, std::cout);
    if (!r) return fail(r.error().with_context(image), false);
    return 0;
  }
  if (iso::is_gpt_disk(image)) {
    auto d = inspect_disk(image, {partition, cat, json}, std::cout);
    if (!d) return fail(d.error().with_context(image), false);
    return 0;
  }
  if (!partition.empty()) {
    return fail(Error(Errc::invalid_argument,
                      "--partition reads disk images; " + image + " is not one (no GPT)"),
                false);
  }
  auto r = cat.empty() ? inspect_list(image, json, std::cout) : inspect_cat(image, cat, std::cout);
  if (!r) return fail(r.error().with_context(image), false);
  return 0;
}

void add_common(CLI::App* cmd, CommonOptions& c) {
  cmd->add_option("--cache-dir", c.cache_dir, "Download cache (default: ~/.cache/edgeforge)");
  cmd->add_flag("--offline", c.offline, "Use only the cache; report every input it lacks");
  cmd->add_flag("--json", c.json, "Print a machine-readable summary on stdout");
  cmd->add_flag("-q,--quiet", c.quiet, "Print errors only");
}

}  // namespace

int run_edgeforge(int argc, char** argv) {
  auto logger = spdlog::stderr_color_st("edgeforge");
  logger->set_pattern("edgeforge: %l: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{"edgeforge builds immutable OS images for edge Kubernetes devices.", "edgeforge"};
  app.set_version_flag("--version", std::string("edgeforge ") + EF_VERSION);
  app.require_subcommand(0, 1);  // unknown words then get CLI11's "not expected" message
  app.footer("Run 'edgeforge COMMAND --help' for a command's options.");

  CommonOptions common;
  std::string profile, output = "out", image, cat;
  unsigned workers = 0;
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log more detail");

  auto* build =
      app.add_subcommand("build", "Build the squashfs image (and manifest) a profile describes");
  build->add_option("-p,--profile", profile, "Profile YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  build->add_option("-o,--output", output, "Output directory (default: out)");
  build->add_option("-j,--workers", workers, "Compressor threads (default: one per CPU)");
  std::vector<std::string> formats;
  build
      ->add_option("-f,--format", formats,
                   "Output formats, overriding spec.output.formats: squashfs, raw, qcow2, iso "
                   "(repeat or comma-separate)")
      ->delimiter(',')
      ->check(CLI::IsMember({"squashfs", "raw", "qcow2", "iso"}));
  add_common(build, common);
  SignOptions sign;
  build->add_option("--sign-key", sign.keys,
                    "Also write a signed bundle (.efb) with this key (PEM file or pkcs11: URI); "
                    "repeat for several keys");
  add_passphrase_options(build, sign.passphrase);
  std::string agent_binary;
  build->add_option("--agent-binary", agent_binary,
                    "The edgeforge-agent to put into the image (default: $EDGEFORGE_AGENT, else "
                    "the one beside this program or in ../agent/)");
  build->add_option("--artifact-mirror", common.artifact_mirror,
                    "Fetch Kubernetes artifacts from this mirror: https://host/path becomes "
                    "URL/host/path (sha256 unchanged; overrides spec.artifactMirror)");
  build->footer(
      "Writes OUTPUT/<name>-<version>.squashfs and .manifest.json (and .efb with\n"
      "--sign-key). Timestamps come from SOURCE_DATE_EPOCH when set, else from the\n"
      "profile's metadata.epoch. The raw and qcow2 formats add\n"
      "OUTPUT/<name>-<version>.raw/.qcow2: the A/B disk image of docs/disk-layout.md with\n"
      "slot A holding the image; iso adds the installer ISO (OUTPUT/<name>-<version>.iso,\n"
      "BIOS and UEFI, CD and USB).\n"
      "Every image gets edgeforge-agent, its units, /etc/edgeforge/agent.json and a\n"
      "keyring with the --sign-key public keys (docs/agent.md); spec.agent.enabled: false\n"
      "leaves it out.");

  auto* validate =
      app.add_subcommand("validate", "Check a profile and its inputs without building");
  validate->add_option("-p,--profile", profile, "Profile YAML file")->required();
  add_common(validate, common);

  std::string provision_out = "provision";
  auto* provision = app.add_subcommand(
      "provision-script",
      "Write an idempotent shell script that turns an existing Ubuntu host into the node a "
      "profile describes");
  provision->add_option("-p,--profile", profile, "Profile YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  provision->add_option("-o,--output", provision_out, "Output directory (default: provision)");
  provision->add_option("--artifact-mirror", common.artifact_mirror,
                        "Fetch Kubernetes artifacts from this mirror (see build --help)");
  add_common(provision, common);
  provision->footer(
      "Writes OUTPUT/provision.sh and OUTPUT/files/<sha256> (every file it installs,\n"
      "verified before use). Copy the folder to the host and run: sudo sh provision.sh\n"
      "Running it again changes nothing. EF_ROOT=/dir installs under another root.\n"
      "Uses spec.kubernetes, spec.packs and spec.site; the host replaces spec.base.");

  std::string site_file, site_root, site_distribution = "k3s";
  auto* render_site = app.add_subcommand(
      "render-site", "Render a site.yaml into the files a node reads (at install time)");
  render_site->add_option("--site", site_file, "Site file (docs/site-config.md)")
      ->required()
      ->check(CLI::ExistingFile);
  render_site->add_option("--root", site_root, "Root directory to write under (e.g. /mnt/target)")
      ->required();
  render_site
      ->add_option("--distribution", site_distribution,
                   "Who reads registry settings: k3s (registries.yaml), kubeadm "
                   "(containerd certs.d) or none (default: k3s)")
      ->check(CLI::IsMember({"k3s", "kubeadm", "none"}));
  render_site->add_flag("-q,--quiet", common.quiet, "Print errors only");
  render_site->footer("Prints the paths it wrote (never their contents: they may hold secrets).");

  bool inspect_json = false;
  std::string inspect_keyring;
  auto* inspect = app.add_subcommand(
      "inspect",
      "List a squashfs image's entries, a disk image's partitions or a bundle's manifest; print "
      "one file");
  inspect->add_option("image", image, "Squashfs image, raw disk image or bundle (.efb)")
      ->required()
      ->check(CLI::ExistingFile);
  inspect->add_option("--keyring", inspect_keyring,
                      "Bundles: say which keyring key matches each signature");
  std::string inspect_partition;
  inspect->add_option(
      "--cat", cat,
      "Print this file from the image (e.g. /etc/os-release); for a disk image, from "
      "the --partition (default: its ESP, e.g. /grub/grubenv)");
  inspect->add_option("--partition", inspect_partition,
                      "Disk images: list (or --cat from) this partition: esp, a, b, persistent "
                      "(or its GPT name)");
  inspect->add_flag("--json", inspect_json, "List entries (or the bundle) as JSON");
  SigningCommands signing_commands(app);

  std::string vm_image;
  bool vm_bios = false, vm_snapshot = false, vm_usb = false;
  unsigned vm_memory = 1024;
  auto* run_vm_cmd =
      app.add_subcommand("run-vm", "Boot a disk image (.raw, .qcow2) or ISO in QEMU");
  run_vm_cmd->add_option("image", vm_image, "Disk image or ISO")
      ->required()
      ->check(CLI::ExistingFile);
  run_vm_cmd->add_flag("--bios", vm_bios, "Legacy BIOS (SeaBIOS) instead of UEFI (OVMF)");
  run_vm_cmd->add_option("-m,--memory", vm_memory, "Guest memory in MiB (default: 1024)");
  run_vm_cmd->add_flag("--snapshot", vm_snapshot, "Discard the guest's writes to the image");
  run_vm_cmd->add_flag("--usb", vm_usb,
                       "Attach the image as a USB stick (an ISO as written with dd) instead of "
                       "a CD or a virtio disk");
  run_vm_cmd->footer(
      "Software emulation (TCG), serial console on this terminal (the images pass\n"
      "console=ttyS0), UEFI variables in a temporary copy of OVMF_VARS.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(verbose ? spdlog::level::debug
                            : (common.quiet ? spdlog::level::warn : spdlog::level::info));
  try {
    if (*build) return run_build(profile, output, workers, formats, common, sign, agent_binary);
    if (*run_vm_cmd) return run_vm(vm_image, vm_bios, vm_memory, vm_snapshot, vm_usb);
    if (*validate) return run_validate(profile, common);
    if (*inspect) return run_inspect(image, cat, inspect_partition, inspect_keyring, inspect_json);
    if (*provision) return run_provision_script(profile, provision_out, common);
    if (auto status = signing_commands.run()) return *status;
    if (*render_site) return run_render_site(site_file, site_root, site_distribution, common.quiet);
    std::cerr << app.help()
              << "\nedgeforge: error: a command is required (build, validate, inspect, keygen, "
                 "bundle, verify, provision-script, render-site or run-vm)\n";
    return 2;
  } catch (const std::exception& e) {
    return fail(Error(Errc::internal, std::string("unexpected failure: ") + e.what()), false);
  }
  return 2;
}

}  // namespace ef::cli
