// QEMU command lines for trying images without hardware (`edgeforge run-vm`)
// and for the boot tests: the right firmware (OVMF for UEFI, SeaBIOS for
// BIOS), a serial console, software emulation (KVM does not work on every
// build host; TCG always does).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ef::iso {

enum class Firmware { uefi, bios };

struct VmSpec {
  std::filesystem::path image;  // .raw, .qcow2 or .iso
  Firmware firmware = Firmware::uefi;
  std::filesystem::path work_dir;  // holds the VM's copy of the UEFI variables
  unsigned memory_mib = 1024;
  unsigned cpus = 2;
  /// Where the serial console goes: empty: this terminal (stdio); else a file.
  std::filesystem::path serial_log;
  bool accel_kvm = false;  // true: -accel kvm (only where KVM guests work)
  bool snapshot = false;   // true: guest writes are discarded
  /// An .iso attached as a USB stick (the file as `dd` writes it to one)
  /// instead of as a CD: boots through its hybrid MBR/GPT, not El Torito.
  bool usb_stick = false;
  /// UEFI with Secure Boot enforced: OVMF's secboot build (SMM) and, unless
  /// `vars` names others, the variables Debian ships with its test
  /// ("snakeoil") key enrolled as PK, KEK and db (/usr/share/ovmf/PkKek-1-snakeoil.*).
  bool secure_boot = false;
  /// UEFI variables to start from (copied to work_dir); empty: OVMF's.
  std::filesystem::path vars;
  /// false: a guest reboot ends QEMU (-no-reboot); true: it reboots, as a
  /// device does after a kernel panic.
  bool allow_reboot = false;
  /// A TPM 2.0 for the guest (CRB interface, as on a NUC): the control
  /// socket of a running swtpm (SoftwareTpm::socket()). Empty: no TPM.
  std::filesystem::path tpm_socket;
};

/// Debian's swtpm as the guest's TPM 2.0, its state kept in a directory so
/// a later run of the same "device" finds the same TPM (and a fresh
/// directory is a fresh TPM). Stopped when this object goes, and by itself
/// when QEMU disconnects.
class SoftwareTpm {
 public:
  /// Starts swtpm on `state_dir` (created when missing). Errors: swtpm
  /// missing (install swtpm), it failing to start.
  static Result<SoftwareTpm> start(const std::filesystem::path& state_dir);
  SoftwareTpm(SoftwareTpm&& o) noexcept : dir_(std::move(o.dir_)), pid_(o.pid_) { o.pid_ = 0; }
  SoftwareTpm& operator=(SoftwareTpm&&) = delete;
  SoftwareTpm(const SoftwareTpm&) = delete;
  ~SoftwareTpm();
  std::filesystem::path socket() const { return dir_ / "swtpm.sock"; }

 private:
  SoftwareTpm(std::filesystem::path dir, int pid) : dir_(std::move(dir)), pid_(pid) {}
  std::filesystem::path dir_;
  int pid_ = 0;
};

/// The qemu-system-x86_64 command line for `spec`. For UEFI it copies
/// OVMF_VARS to `work_dir` (the firmware writes its variables there). Errors:
/// OVMF missing (install ovmf).
Result<std::vector<std::string>> qemu_command(const VmSpec& spec);

}  // namespace ef::iso
