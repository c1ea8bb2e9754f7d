#include "iso/vm.hpp"

#include <signal.h>
#include <unistd.h>

#include <string>

#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::iso {
namespace {

const std::filesystem::path kOvmf = "/usr/share/OVMF";

}  // namespace

Result<std::vector<std::string>> qemu_command(const VmSpec& spec) {
  std::string ext = spec.image.extension().string();
  std::string format = ext == ".qcow2" ? "qcow2" : "raw";
  std::vector<std::string> argv = {"qemu-system-x86_64",
                                   "-machine",
                                   "q35",
                                   "-accel",
                                   spec.accel_kvm ? "kvm" : "tcg",
                                   "-m",
                                   std::to_string(spec.memory_mib),
                                   "-smp",
                                   std::to_string(spec.cpus),
                                   "-display",
                                   "none",
                                   "-nic",
                                   "none"};
  if (!spec.allow_reboot) argv.push_back("-no-reboot");
  if (spec.secure_boot && spec.firmware != Firmware::uefi)
    return Error(Errc::invalid_argument, "Secure Boot needs UEFI firmware");
  if (spec.firmware == Firmware::uefi) {
    std::filesystem::path code = kOvmf / "OVMF_CODE_4M.fd", vars = kOvmf / "OVMF_VARS_4M.fd";
    if (spec.secure_boot) {
      // The secboot build keeps its variables behind SMM, so the OS cannot
      // write them around the firmware's checks.
      code = kOvmf / "OVMF_CODE_4M.secboot.fd";
      vars = kOvmf / "OVMF_VARS_4M.snakeoil.fd";
      argv[2] = "q35,smm=on";
      argv.insert(argv.end(), {"-global", "driver=cfi.pflash01,property=secure,value=on"});
    }
    if (!spec.vars.empty()) vars = spec.vars;
    if (!std::filesystem::exists(code) || !std::filesystem::exists(vars))
      return Error(Errc::not_found, code.string() + ": UEFI firmware missing; install ovmf");
    std::error_code ec;
    std::filesystem::create_directories(spec.work_dir, ec);
    std::filesystem::path my_vars = spec.work_dir / "OVMF_VARS.fd";
    std::filesystem::copy_file(vars, my_vars, std::filesystem::copy_options::overwrite_existing,
                               ec);
    if (ec) return Error(Errc::io, my_vars.string() + ": " + ec.message());
    argv.insert(argv.end(), {"-drive", "if=pflash,format=raw,readonly=on,file=" + code.string(),
                             "-drive", "if=pflash,format=raw,file=" + my_vars.string()});
  }
  if (spec.usb_stick) {
    argv.insert(argv.end(), {"-device", "qemu-xhci", "-drive",
                             "if=none,id=stick,format=raw,readonly=on,file=" + spec.image.string(),
                             "-device", "usb-storage,drive=stick,removable=on"});
  } else if (ext == ".iso") {
    argv.insert(argv.end(), {"-drive", "media=cdrom,readonly=on,file=" + spec.image.string()});
  } else {
    argv.insert(argv.end(),
                {"-drive", "if=virtio,format=" + format + ",file=" + spec.image.string()});
  }
  if (!spec.tpm_socket.empty())
    argv.insert(argv.end(),
                {"-chardev", "socket,id=tpm,path=" + spec.tpm_socket.string(), "-tpmdev",
                 "emulator,id=tpm0,chardev=tpm", "-device", "tpm-crb,tpmdev=tpm0"});
  if (spec.snapshot) argv.push_back("-snapshot");
  if (spec.serial_log.empty()) {
    argv.insert(argv.end(), {"-serial", "mon:stdio"});
  } else {
    argv.insert(argv.end(), {"-serial", "file:" + spec.serial_log.string(), "-monitor", "none"});
  }
  return argv;
}

Result<SoftwareTpm> SoftwareTpm::start(const std::filesystem::path& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Error(Errc::io, state_dir.string() + ": " + ec.message());
  std::filesystem::path pid_file = state_dir / "swtpm.pid";
  std::filesystem::remove(pid_file, ec);
  // --daemon returns once the control socket listens; --terminate ends it
  // when QEMU closes the connection.
  std::vector<std::string> argv = {"swtpm",
                                   "socket",
                                   "--tpm2",
                                   "--tpmstate",
                                   "dir=" + state_dir.string(),
                                   "--ctrl",
                                   "type=unixio,path=" + (state_dir / "swtpm.sock").string(),
                                   "--daemon",
                                   "--terminate",
                                   "--pid",
                                   "file=" + pid_file.string()};
  ProcessOptions po;
  po.apt_package = "swtpm";
  EF_ASSIGN(auto r, run_process(argv, po));
  if (!r.success()) return process_failure(argv, r);
  EF_ASSIGN(std::string pid_text, read_file(pid_file));
  int pid = 0;
  try {
    pid = std::stoi(pid_text);
  } catch (const std::exception&) {
    return Error(Errc::internal, pid_file.string() + ": no process id from swtpm");
  }
  return SoftwareTpm(state_dir, pid);
}

SoftwareTpm::~SoftwareTpm() {
  if (pid_ <= 0) return;
  // It may have ended by itself (--terminate) and its id gone to another process.
  auto cmdline = read_file("/proc/" + std::to_string(pid_) + "/cmdline");
  if (cmdline && cmdline->find(dir_.string()) != std::string::npos) ::kill(pid_, SIGTERM);
}

}  // namespace ef::iso
