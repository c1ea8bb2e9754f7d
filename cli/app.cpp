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
#include "cli/inspect.hpp"
#include "iso/disk_reader.hpp"
#include "iso/vm.hpp"
#include "util/subprocess.hpp"
#include "cli/progress.hpp"

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

int fail(const Error& e, bool json) {
  if (json) {
    nlohmann::json out = {{"ok", false},
                          {"error",
                           {{
                                "code",
                                errc_name(e.code()),
                            },
                            {"message", e.message()}}}};
    std::cout << out.dump(2) << "\n";
  }
  std::cerr << "edgeforge: error: " << e.message() << "\n";
  return 1;
}

int run_build(const std::string& profile, const std::string& output, unsigned workers,
              const std::vector<std::string>& formats, const CommonOptions& c) {
  auto sde = source_date_epoch();
  if (!sde) return fail(sde.error(), c.json);
  build::BuildOptions o;
  o.profile = profile;
  o.output_dir = output;
  o.cache = cache_options(c);
  o.workers = workers;
  o.formats = formats;
  o.source_date_epoch = *sde;
  ProgressDisplay display(!c.quiet && !c.json && ::isatty(STDERR_FILENO));
  o.progress = [&](const build::Progress& p) { display.update(p); };
  auto result = build::build_image(o);
  display.finish();
  if (!result) return fail(result.error(), c.json);
  if (c.json) {
    nlohmann::json out = {{"ok", true},
                          {"image", result->image.string()},
                          {"manifest", result->manifest.string()},
                          {"sha256", result->image_sha256},
                          {"size", result->image_size},
                          {"entries", result->manifest_json["entries"]},
                          {"warnings", result->manifest_json["warnings"]}};
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

int run_vm(const std::string& image, bool bios, unsigned memory, bool snapshot) {
  iso::VmSpec vm;
  vm.image = image;
  vm.firmware = bios ? iso::Firmware::bios : iso::Firmware::uefi;
  vm.memory_mib = memory;
  vm.snapshot = snapshot;
  vm.work_dir = std::filesystem::temp_directory_path() / ("edgeforge-vm-" + std::to_string(::getpid()));
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

int run_inspect(const std::string& image, const std::string& cat, bool json) {
  if (iso::is_gpt_disk(image)) {
    auto d = inspect_disk(image, cat, std::cout);
    if (!d) return fail(d.error().with_context(image), false);
    return 0;
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
  build->add_option("-f,--format", formats,
                    "Output formats, overriding spec.output.formats: squashfs, raw, qcow2, iso "
                    "(repeat or comma-separate)")
      ->delimiter(',')
      ->check(CLI::IsMember({"squashfs", "raw", "qcow2", "iso"}));
  add_common(build, common);
  build->footer(
      "Writes OUTPUT/<name>-<version>.squashfs and .manifest.json. Timestamps come from\n"
      "SOURCE_DATE_EPOCH when set, else from the profile's metadata.epoch. The raw and\n"
      "qcow2 formats add OUTPUT/<name>-<version>.raw/.qcow2: the A/B disk image of\n"
      "docs/disk-layout.md with slot A holding the image; iso adds the installer ISO\n"
      "(OUTPUT/<name>-<version>.iso, BIOS and UEFI, CD and USB).");

  auto* validate =
      app.add_subcommand("validate", "Check a profile and its inputs without building");
  validate->add_option("-p,--profile", profile, "Profile YAML file")->required();
  add_common(validate, common);

  bool inspect_json = false;
  auto* inspect =
      app.add_subcommand("inspect", "List a squashfs image's entries or a disk image's partitions; print one file");
  inspect->add_option("image", image, "Squashfs image or raw disk image")->required()->check(CLI::ExistingFile);
  inspect->add_option("--cat", cat,
                      "Print this file from the image (e.g. /etc/os-release); for a disk image, from "
                      "its ESP (e.g. /grub/grubenv)");
  inspect->add_flag("--json", inspect_json, "List entries as JSON");

  std::string vm_image;
  bool vm_bios = false, vm_snapshot = false;
  unsigned vm_memory = 1024;
  auto* run_vm_cmd = app.add_subcommand("run-vm", "Boot a disk image (.raw, .qcow2) or ISO in QEMU");
  run_vm_cmd->add_option("image", vm_image, "Disk image or ISO")->required()->check(CLI::ExistingFile);
  run_vm_cmd->add_flag("--bios", vm_bios, "Legacy BIOS (SeaBIOS) instead of UEFI (OVMF)");
  run_vm_cmd->add_option("-m,--memory", vm_memory, "Guest memory in MiB (default: 1024)");
  run_vm_cmd->add_flag("--snapshot", vm_snapshot, "Discard the guest's writes to the image");
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
    if (*build) return run_build(profile, output, workers, formats, common);
    if (*run_vm_cmd) return run_vm(vm_image, vm_bios, vm_memory, vm_snapshot);
    if (*validate) return run_validate(profile, common);
    if (*inspect) return run_inspect(image, cat, inspect_json);
    std::cerr << app.help()
              << "\nedgeforge: error: a command is required (build, validate, inspect or run-vm)\n";
    return 2;
  } catch (const std::exception& e) {
    return fail(Error(Errc::internal, std::string("unexpected failure: ") + e.what()), false);
  }
  return 2;
}

}  // namespace ef::cli
