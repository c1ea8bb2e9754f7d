// Issue 6, acceptance 1, under QEMU (UEFI, OVMF, TCG): a blank virtual disk
// and the installer ISO whose site file asks for an unattended install to
// /dev/vda with wipe and reboot. The ISO's default entry boots the live
// system, edgeforge-install.service runs `edgeforge-agent install --auto`,
// the guest reboots (QEMU runs with -no-reboot, so it exits); the disk is
// then booted alone and must come up from slot A to multi-user with the
// site's host name, with UEFI and then with BIOS firmware. Outside oracles on the disk file: sfdisk
// --json and grub-editenv.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "iso/vm.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/subprocess.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBootTimeout = "480";  // seconds per QEMU run under TCG

std::string cache_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/edgeforge";
}

std::string run_vm(const std::string& name, const fs::path& image, const fs::path& dir,
                   const std::vector<std::string>& extra,
                   iso::Firmware firmware = iso::Firmware::uefi) {
  iso::VmSpec vm;
  vm.image = image;
  vm.firmware = firmware;
  vm.work_dir = dir / name;
  vm.serial_log = dir / (name + ".log");
  auto argv = iso::qemu_command(vm);
  EXPECT_TRUE(argv.ok());
  if (!argv) return "";
  argv->insert(argv->begin(), {"timeout", kBootTimeout});
  argv->insert(argv->end(), extra.begin(), extra.end());
  auto res = run_process(*argv);
  EXPECT_TRUE(res.ok() && res->success())
      << "qemu: " << (res ? res->describe() + res->stderr_tail : "");
  auto log = read_file(vm.serial_log);
  return log ? *log : "";
}

TEST(InstallE2E, UnattendedUefiInstallOntoBlankDiskThenBootsSlotA) {
  TempDir dir;
  dir.write("site.yaml",
            "hostname: store-e2e\n"
            "install: {unattended: true, target: /dev/vda, wipe: true, then: reboot}\n");
  dir.write("profile.yaml", std::string("apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\n"
                                        "metadata: {name: install-e2e, version: 1.0.0}\nspec:\n"
                                        "  extends: [") +
                                EF_SOURCE_DIR +
                                "/examples/quickstart/profile.yaml]\n"
                                "  layers:\n"
                                "    - directory: {path: " +
                                EF_SOURCE_DIR +
                                "/tests/agent/install-e2e/guest}\n"
                                "  output:\n"
                                "    level: 3\n"
                                "    formats: [iso]\n"
                                "    installerSite: site.yaml\n"
                                "    disk: {espSize: 128, slotSize: 512, persistentSize: 256}\n");
  auto built = run_command(std::string(EF_EDGEFORGE_BIN) + " build -q --cache-dir " + cache_dir() +
                           " --profile " + (dir / "profile.yaml").string() + " --output " +
                           (dir / "out").string() + " >&2");
  ASSERT_EQ(built.status, 0);
  fs::path disk = dir / "disk.raw";
  ASSERT_EQ(run_command("truncate -s 1500M " + disk.string()).status, 0);
  std::string vda = "if=virtio,format=raw,file=" + disk.string();

  // 1. Installer ISO + blank disk: the default entry installs and reboots.
  std::string install =
      run_vm("install", dir / "out/install-e2e-1.0.0.iso", dir.path(), {"-drive", vda});
  EXPECT_NE(install.find("edgeforge: starting the installer"), std::string::npos) << install;
  EXPECT_NE(install.find("edgeforge-agent install: partitioning /dev/vda"), std::string::npos)
      << install;
  EXPECT_NE(install.find("edgeforge-agent install: slot A verified"), std::string::npos) << install;
  // A failed install leaves nothing to boot: stop here, not after two more
  // VM timeouts.
  ASSERT_NE(
      install.find("edgeforge-agent install: done: /dev/vda boots install-e2e 1.0.0 from slot A"),
      std::string::npos)
      << install;
  EXPECT_NE(install.find("edgeforge-agent install: rebooting"), std::string::npos) << install;

  // Outside oracles on the disk file.
  auto listed = run_command("sfdisk --json " + disk.string());
  ASSERT_EQ(listed.status, 0) << listed.out;
  auto parts = nlohmann::json::parse(listed.out)["partitiontable"]["partitions"];
  ASSERT_EQ(parts.size(), 5u) << listed.out;
  EXPECT_EQ(parts[0]["name"], "edgeforge-esp");
  EXPECT_EQ(parts[1]["name"], "edgeforge-slot-a");
  EXPECT_EQ(parts[3]["name"], "edgeforge-persist");
  std::string esp = disk.string() + "@@" + std::to_string(parts[0]["start"].get<uint64_t>() * 512);
  ASSERT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mcopy -i " + esp + " ::/grub/grubenv " +
                        (dir / "grubenv").string())
                .status,
            0);
  auto env = run_command("grub-editenv " + (dir / "grubenv").string() + " list").out;
  EXPECT_NE(env.find("ORDER=A B"), std::string::npos) << env;
  EXPECT_NE(env.find("A_OK=1"), std::string::npos) << env;

  // 2. The disk alone: slot A, multi-user, the site's host name, slot A good.
  std::string boot = run_vm("boot", disk, dir.path(), {});
  EXPECT_NE(boot.find("edgeforge: booting slot A"), std::string::npos) << boot;
  EXPECT_NE(boot.find("EFTEST slot=A"), std::string::npos) << boot;
  EXPECT_NE(boot.find("EFTEST target=active"), std::string::npos) << boot;
  EXPECT_NE(boot.find("EFTEST root=squashfs,ro"), std::string::npos) << boot;
  EXPECT_NE(boot.find("EFTEST hostname=store-e2e"), std::string::npos) << boot;
  EXPECT_NE(boot.find("\"A\":{\"health\":\"good\",\"imageSha256\""), std::string::npos) << boot;
  // The agent's boot check (edgeforge-boot.service) found the slot healthy.
  EXPECT_NE(boot.find("edgeforge-agent: slot A (1.0.0) is good"), std::string::npos) << boot;
  EXPECT_NE(boot.find("EFTEST done"), std::string::npos) << boot;

  // 3. The same disk with BIOS firmware (SeaBIOS): GRUB from the MBR and the
  // bios_grub partition runs the same grub.cfg.
  std::string bios = run_vm("boot-bios", disk, dir.path(), {}, iso::Firmware::bios);
  EXPECT_NE(bios.find("edgeforge: booting slot A"), std::string::npos) << bios;
  EXPECT_NE(bios.find("EFTEST slot=A"), std::string::npos) << bios;
  EXPECT_NE(bios.find("EFTEST target=active"), std::string::npos) << bios;
  EXPECT_NE(bios.find("EFTEST hostname=store-e2e"), std::string::npos) << bios;
}

}  // namespace
}  // namespace ef::test
