// QEMU command lines and the software TPM the boot tests and run-vm --tpm
// give a guest. The guest side (the TPM seals the persistent partition) is
// secure_boot_e2e_test.
#include "iso/vm.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

// Running, not a zombie (the daemon's parent may not reap it at once).
bool alive(int pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

bool has_run(const std::vector<std::string>& argv, const std::vector<std::string>& run) {
  return std::search(argv.begin(), argv.end(), run.begin(), run.end()) != argv.end();
}

TEST(VmTest, ATpmSocketBecomesACrbTpmOfTheGuest) {
  TempDir tmp;
  iso::VmSpec vm;
  vm.image = tmp / "disk.raw";
  vm.work_dir = tmp / "vm";
  vm.secure_boot = true;
  auto plain = iso::qemu_command(vm);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(std::find(plain->begin(), plain->end(), "-tpmdev"), plain->end());
  vm.tpm_socket = tmp / "tpm/swtpm.sock";
  auto argv = iso::qemu_command(vm);
  ASSERT_TRUE(argv.ok()) << argv.error().message();
  EXPECT_TRUE(has_run(*argv, {"-chardev", "socket,id=tpm,path=" + vm.tpm_socket.string(), "-tpmdev",
                              "emulator,id=tpm0,chardev=tpm", "-device", "tpm-crb,tpmdev=tpm0"}));
}

// The real swtpm: started on a state directory (made when missing), it
// listens on socket(); gone with the object.
TEST(VmTest, SoftwareTpmRunsUntilItsOwnerGoes) {
  TempDir tmp;
  fs::path state = tmp / "device-1/tpm";
  int pid = 0;
  {
    auto tpm = iso::SoftwareTpm::start(state);
    ASSERT_TRUE(tpm.ok()) << tpm.error().message();
    EXPECT_EQ(tpm->socket(), state / "swtpm.sock");
    EXPECT_TRUE(fs::is_socket(tpm->socket()));
    auto pid_text = read_file(state / "swtpm.pid");
    ASSERT_TRUE(pid_text.ok());
    pid = std::stoi(*pid_text);
    EXPECT_TRUE(alive(pid)) << "swtpm is not running";
  }
  for (int i = 0; i < 500 && alive(pid); ++i) ::usleep(10000);
  EXPECT_FALSE(alive(pid)) << "swtpm still runs";
  // A state directory that cannot be made: one line naming it.
  ASSERT_TRUE(write_file_atomic(tmp / "file", "x").ok());
  auto bad = iso::SoftwareTpm::start(tmp / "file/tpm");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find((tmp / "file/tpm").string()), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace ef::test
