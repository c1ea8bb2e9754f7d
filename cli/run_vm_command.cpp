// edgeforge run-vm: boot a disk image or ISO in QEMU on this terminal.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "iso/vm.hpp"
#include "util/subprocess.hpp"

namespace ef::cli {
namespace {

struct RunVmArgs {
  std::string image;
  bool bios = false;
  unsigned memory = 1024;
  bool snapshot = false;
  bool usb = false;
  bool secure_boot = false;
  std::string vars;
  std::string tpm;
};

int run_vm(const RunVmArgs& a) {
  iso::VmSpec vm;
  vm.image = a.image;
  vm.usb_stick = a.usb;
  vm.firmware = a.bios ? iso::Firmware::bios : iso::Firmware::uefi;
  vm.memory_mib = a.memory;
  vm.snapshot = a.snapshot;
  vm.secure_boot = a.secure_boot;
  vm.vars = a.vars;
  vm.work_dir =
      std::filesystem::temp_directory_path() / ("edgeforge-vm-" + std::to_string(::getpid()));
  std::optional<iso::SoftwareTpm> tpm;
  if (!a.tpm.empty()) {
    auto started = iso::SoftwareTpm::start(a.tpm);
    if (!started) return fail(started.error().with_context("--tpm " + a.tpm), false);
    tpm.emplace(std::move(*started));
    vm.tpm_socket = tpm->socket();
  }
  auto argv = iso::qemu_command(vm);
  if (!argv) return fail(argv.error(), false);
  std::cerr << "edgeforge: " << format_command(*argv) << "\n"
            << "edgeforge: serial console on this terminal; Ctrl-A X quits QEMU\n";
  ProcessOptions po;
  po.capture_stderr = false;
  po.inherit_stdin = true;  // the console is interactive
  auto res = run_process(*argv, po);
  std::error_code ec;
  std::filesystem::remove_all(vm.work_dir, ec);
  if (!res) return fail(res.error(), false);
  if (!res->success()) return fail(process_failure(*argv, *res), false);
  return 0;
}

}  // namespace

cmdline::Command add_run_vm_command(CLI::App& app) {
  auto a = std::make_shared<RunVmArgs>();
  auto* cmd = app.add_subcommand("run-vm", "Boot a disk image (.raw, .qcow2) or ISO in QEMU");
  cmd->add_option("image", a->image, "Disk image or ISO")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--bios", a->bios, "Legacy BIOS (SeaBIOS) instead of UEFI (OVMF)");
  cmd->add_option("-m,--memory", a->memory, "Guest memory in MiB (default: 1024)");
  cmd->add_flag("--snapshot", a->snapshot, "Discard the guest's writes to the image");
  cmd->add_flag("--usb", a->usb,
                "Attach the image as a USB stick (an ISO as written with dd) instead of "
                "a CD or a virtio disk");
  cmd->add_flag("--secure-boot", a->secure_boot,
                "UEFI with Secure Boot enforced (OVMF secboot); the variables have Debian's "
                "test key enrolled unless --vars names others");
  cmd->add_option("--vars", a->vars, "UEFI variables to start from (an OVMF_VARS file)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tpm", a->tpm,
                  "Give the guest a TPM 2.0 (swtpm) whose state lives in this directory "
                  "(created when missing): the same directory is the same TPM next time");
  cmd->footer(
      "Software emulation (TCG), serial console on this terminal (the images pass\n"
      "console=ttyS0), UEFI variables in a temporary copy of OVMF_VARS.");
  return {cmd, [a] { return run_vm(*a); }};
}

}  // namespace ef::cli
