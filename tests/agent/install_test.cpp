// edgeforge-agent install without a VM: the installer ISO built from a small
// synthetic image is unpacked (xorriso) as the medium, and the install
// writes a disk image file through loop devices (root only). Oracles:
// sfdisk --json, fsck.vfat, blkid, grub-editenv, e2fsck, debugfs. Target
// checks and `target: auto` run against files and a fake sysfs tree.
#include "agent/install.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "agent/install_target.hpp"
#include "agent/state.hpp"
#include "iso/installer_iso.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1024 * 1024;

class InstallTest : public TempDirTest {
 protected:
  // A medium as the ISO builder makes it, unpacked to `medium/`.
  void make_medium(const std::string& site_text) {
    tmp.write("root/boot/vmlinuz-6.1.0-2-amd64", std::string(300000, 'k'));
    tmp.write("root/boot/initrd.img-6.1.0-2-amd64", std::string(200000, 'i'));
    tmp.write("root/usr/lib/modules/6.1.0-2-amd64/modules.dep",
              "kernel/fs/squashfs/squashfs.ko:\nkernel/fs/overlayfs/overlay.ko:\nkernel/fs/isofs/"
              "isofs.ko:\n");
    for (const char* m : {"squashfs/squashfs.ko", "overlayfs/overlay.ko", "isofs/isofs.ko"})
      tmp.write(std::string("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/") + m, m);
    ASSERT_EQ(
        run_command("mksquashfs " + (tmp / "root").string() + " " + (tmp / "os.squashfs").string() +
                    " -quiet -no-progress -mkfs-time 0 -all-time 0")
            .status,
        0);
    iso::IsoSpec spec;
    spec.squashfs = tmp / "os.squashfs";
    spec.epoch = 1747699200;
    spec.layout = {64 * kMiB, 16 * kMiB, 16 * kMiB};
    spec.product = "tiny";
    spec.version = "1.2.3";
    spec.min_version = "1.0.0";
    if (!site_text.empty()) spec.site = tmp.write("site.yaml", site_text);
    auto info = iso::build_installer_iso(spec, tmp / "installer.iso", tmp / "iso-work");
    ASSERT_TRUE(info.ok()) << info.error().message();
    ASSERT_EQ(run_command("xorriso -osirrox on -indev " + (tmp / "installer.iso").string() +
                          " -extract / " + (tmp / "medium").string() + " >/dev/null 2>&1")
                  .status,
              0);
  }
  fs::path blank_disk(uint64_t size = 120 * kMiB) {
    fs::path disk = tmp / "disk.img";
    EXPECT_EQ(run_command("truncate -s " + std::to_string(size) + " " + disk.string()).status, 0);
    return disk;
  }
  agent::InstallOptions options(const fs::path& disk) {
    agent::InstallOptions o;
    o.target = disk;
    o.source = tmp / "medium";
    // Every step after the target check must run under the target's
    // flock (it keeps udev off a real disk): try to take it at each one.
    o.log = [this, disk](const std::string& s) {
      log += s + "\n";
      if (s.starts_with("target ")) return;
      UniqueFd fd(::open(disk.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) unlocked += s + "\n";
    };
    return o;
  }
  // Copies partition `n` (1-based) of `disk` out to a file of its own.
  fs::path extract(const fs::path& disk, int n, const nlohmann::json& table) {
    const auto& p = table["partitions"][n - 1];
    fs::path out = tmp / ("part" + std::to_string(n) + ".img");
    EXPECT_EQ(run_command("dd if=" + disk.string() + " of=" + out.string() +
                          " bs=512 skip=" + std::to_string(p["start"].get<uint64_t>()) +
                          " count=" + std::to_string(p["size"].get<uint64_t>()) + " status=none")
                  .status,
              0);
    return out;
  }
  static bool can_loop() {
    return ::geteuid() == 0 && run_command("losetup --find >/dev/null 2>&1").status == 0;
  }
  std::string log;
  std::string unlocked;  // steps that ran while the target's flock was free
};

TEST_F(InstallTest, InstallsTheDocumentedLayoutOntoADiskImage) {
  if (!can_loop()) GTEST_SKIP() << "needs root and loop devices";
  make_medium(
      "hostname: store-7.example.com\ntags: {store: \"7\"}\ninstall: {unattended: true, target: "
      "auto}\n");
  fs::path disk = blank_disk();
  auto r = agent::install(options(disk));
  ASSERT_TRUE(r.ok()) << r.error().message() << "\n" << log;
  for (const char* step : {"partitioning", "ESP", "slot A verified", "persistent", "done:"})
    EXPECT_NE(log.find(step), std::string::npos) << step << "\n" << log;
  EXPECT_EQ(unlocked, "") << "steps run without the target's lock";

  auto listed = run_command("sfdisk --json " + disk.string());
  ASSERT_EQ(listed.status, 0);
  auto table = nlohmann::json::parse(listed.out)["partitiontable"];
  auto manifest = agent::load_install_manifest(tmp / "medium");
  ASSERT_TRUE(manifest.ok());
  ASSERT_EQ(table["partitions"].size(), 5u);
  std::string id = table["id"];
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(id, manifest->disk_guid);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(table["partitions"][i]["name"], manifest->partitions[i].name);
    EXPECT_EQ(table["partitions"][i]["start"].get<uint64_t>() * 512,
              manifest->partitions[i].offset);
  }

  // ESP: a clean FAT with the volume id GRUB searches for, slot A good.
  fs::path esp = extract(disk, 1, table);
  EXPECT_EQ(run_command("fsck.vfat -n " + esp.string() + " >/dev/null").status, 0);
  EXPECT_EQ(run_command("blkid -p -o value -s UUID " + esp.string()).out,
            manifest->esp_volume_id + "\n");
  EXPECT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mcopy -i " + esp.string() + " ::/grub/grubenv " +
                        (tmp / "grubenv").string())
                .status,
            0);
  auto env = run_command("grub-editenv " + (tmp / "grubenv").string() + " list").out;
  EXPECT_NE(env.find("ORDER=A B"), std::string::npos) << env;
  EXPECT_NE(env.find("A_OK=1"), std::string::npos) << env;
  auto dir = run_command("MTOOLS_SKIP_CHECK=1 mdir -b -/ -i " + esp.string() + " ::/").out;
  for (const char* f : {"::/EFI/BOOT/BOOTX64.EFI", "::/grub/grub.cfg", "::/slot-a/vmlinuz",
                        "::/slot-a/initrd.img", "::/slot-a/edgeforge.cpio"})
    EXPECT_NE(dir.find(f), std::string::npos) << f << "\n" << dir;

  // BIOS: GRUB's boot code in the MBR, its core in the bios_grub partition.
  auto bytes = [&](uint64_t offset, uint64_t size) {
    return run_command("dd if=" + disk.string() + " bs=512 skip=" + std::to_string(offset / 512) +
                       " count=" + std::to_string((size + 511) / 512) + " status=none | head -c " +
                       std::to_string(size) + " | sha256sum | cut -c1-64")
        .out;
  };
  ASSERT_EQ(manifest->bios_files.size(), 2u);
  EXPECT_EQ(bytes(0, 440), manifest->bios_files[0].sha256 + "\n");
  EXPECT_EQ(bytes(manifest->partition("edgeforge-bios")->offset, manifest->bios_files[1].size),
            manifest->bios_files[1].sha256 + "\n");

  // Slot A: the image's bytes.
  fs::path slot = extract(disk, 2, table);
  ASSERT_EQ(::truncate(slot.c_str(), static_cast<off_t>(fs::file_size(tmp / "os.squashfs"))), 0);
  EXPECT_EQ(sha256_file(slot).value(), sha256_file(tmp / "os.squashfs").value());

  // Persistent: clean ext4, the agent's state and the site configuration.
  fs::path persist = extract(disk, 4, table);
  EXPECT_EQ(run_command("e2fsck -fn " + persist.string() + " >/dev/null 2>&1").status, 0);
  EXPECT_EQ(run_command("blkid -p -o value -s LABEL " + persist.string()).out, "edgeforge-data\n");
  auto cat = [&](const std::string& path) {
    return run_command("debugfs -R 'cat " + path + "' " + persist.string() + " 2>/dev/null").out;
  };
  auto state_text = cat("/agent/state.json");
  fs::path state_file = tmp.write("state.json", state_text);
  auto state = agent::load_state(state_file);
  ASSERT_TRUE(state.ok()) << state_text;
  EXPECT_EQ(state->a.health, agent::SlotHealth::good);
  EXPECT_EQ(state->a.product, "tiny");
  EXPECT_EQ(state->a.version, "1.2.3");
  EXPECT_EQ(state->a.image_sha256, sha256_file(tmp / "os.squashfs").value());
  EXPECT_EQ(state->b.health, agent::SlotHealth::empty);
  EXPECT_EQ(state->floor, "1.0.0");
  EXPECT_NE(cat("/site/site.yaml").find("store-7.example.com"), std::string::npos);
  EXPECT_EQ(cat("/overlay/etc/upper/hostname"), "store-7.example.com\n");
  EXPECT_NE(cat("/overlay/etc/upper/edgeforge/tags.yaml").find("store"), std::string::npos);
}

TEST_F(InstallTest, RefusesADiskWithDataUnlessWipeAndLeavesItUntouched) {
  if (!can_loop()) GTEST_SKIP() << "needs root and loop devices";
  make_medium("");
  fs::path disk = blank_disk();
  ASSERT_EQ(
      run_command("printf 'label: gpt\\nsize=10M\\n' | sfdisk --quiet " + disk.string()).status, 0);
  std::string before = sha256_file(disk).value();
  auto r = agent::install(options(disk));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("holds data (gpt, PMBR)"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("nothing was written (use --wipe"), std::string::npos);
  EXPECT_EQ(sha256_file(disk).value(), before);
  auto o = options(disk);
  o.wipe = true;
  auto wiped = agent::install(o);
  ASSERT_TRUE(wiped.ok()) << wiped.error().message() << "\n" << log;
  auto table =
      nlohmann::json::parse(run_command("sfdisk --json " + disk.string()).out)["partitiontable"];
  EXPECT_EQ(table["partitions"].size(), 5u);
}

TEST_F(InstallTest, ATargetLockedByAnotherProgramIsRefusedBeforeAnyWrite) {
  make_medium("");
  fs::path disk = blank_disk();
  std::string before = sha256_file(disk).value();
  // A partitioner (or udev probing the disk) holds the disk's flock.
  UniqueFd holder(::open(disk.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(holder);
  ASSERT_EQ(::flock(holder.get(), LOCK_EX), 0);
  auto o = options(disk);
  o.lock_wait_seconds = 0;
  auto r = agent::install(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::refused) << r.error().message();
  EXPECT_NE(r.error().message().find("holds " + disk.string()), std::string::npos)
      << r.error().message();
  EXPECT_EQ(log.find("partitioning"), std::string::npos) << log;
  EXPECT_EQ(sha256_file(disk).value(), before);
}

TEST_F(InstallTest, RefusesTooSmallTargetAndDamagedMedium) {
  make_medium("");
  fs::path disk = blank_disk(50 * kMiB);
  auto r = agent::install(options(disk));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("has 50 MiB; the layout needs 114 MiB"), std::string::npos)
      << r.error().message();
  auto o = options(disk);
  o.source = tmp / "nowhere";
  auto missing = agent::install(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("is not an edgeforge installer medium"),
            std::string::npos);
}

TEST_F(InstallTest, DamagedImageOnTheMediumFailsAfterPartitioningWithAClearMessage) {
  if (!can_loop()) GTEST_SKIP() << "needs root and loop devices";
  make_medium("");
  fs::path image = tmp / "medium/edgeforge/rootfs.squashfs";
  fs::permissions(image, fs::perms::owner_write, fs::perm_options::add);
  ASSERT_EQ(
      run_command("printf X | dd of=" + image.string() + " bs=1 seek=100 conv=notrunc status=none")
          .status,
      0);
  auto r = agent::install(options(blank_disk()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("the disk is left unbootable"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("does not match its sha256"), std::string::npos)
      << r.error().message();
}

TEST_F(InstallTest, CliAutoDoesNothingUnlessAskedAndErrorsAreOneLine) {
  make_medium("hostname: a\n");
  auto agent = [&](const std::string& args) {
    return run_command(std::string(EF_AGENT_BIN) + " install --source " +
                       (tmp / "medium").string() + " " + args + " 2>" + (tmp / "stderr").string());
  };
  auto nothing = agent("--auto");
  EXPECT_EQ(nothing.status, 0);
  EXPECT_NE(nothing.out.find("does not ask for an unattended install"), std::string::npos)
      << nothing.out;
  EXPECT_EQ(agent("").status, 2);  // a usage error
  EXPECT_NE(read_file(tmp / "stderr")->find("--target is required"), std::string::npos);
  fs::path disk = blank_disk();
  ASSERT_EQ(
      run_command("printf 'label: gpt\\nsize=10M\\n' | sfdisk --quiet " + disk.string()).status, 0);
  EXPECT_EQ(agent("--target " + disk.string()).status, 1);
  auto err = *read_file(tmp / "stderr");
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(err.starts_with("edgeforge-agent: error: target " + disk.string() + " holds data"))
      << err;
}

TEST_F(InstallTest, CliAutoInstallsWhatTheSiteFileAsks) {
  if (!can_loop()) GTEST_SKIP() << "needs root and loop devices";
  // then: none — this test must never reboot the machine it runs on.
  make_medium("hostname: a\ninstall: {unattended: true, target: auto, wipe: true, then: none}\n");
  fs::path disk = blank_disk();
  ASSERT_EQ(
      run_command("printf 'label: gpt\\nsize=10M\\n' | sfdisk --quiet " + disk.string()).status, 0);
  auto r = run_command(std::string(EF_AGENT_BIN) + " install --auto --target " + disk.string() +
                       " --source " + (tmp / "medium").string() + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("edgeforge-agent install: wiping"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("edgeforge-agent install: done"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("rebooting"), std::string::npos) << r.out;
  auto table =
      nlohmann::json::parse(run_command("sfdisk --json " + disk.string()).out)["partitiontable"];
  EXPECT_EQ(table["partitions"].size(), 5u);
}

TEST(InstallTargetTest, AutoPicksTheOnlyInternalDiskThatIsNotTheMedium) {
  // A USB stick holding the medium, and one internal disk.
  std::vector<agent::DiskFacts> disks = {{"sda", 8ull << 30, true, {}},
                                         {"vda", 16ull << 30, false, {}}};
  EXPECT_EQ(agent::pick_auto_target(disks, "sda").value(), "/dev/vda");
  auto none = agent::pick_auto_target(disks, "vda");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find(
                "no internal disk found (disks: sda (removable), vda (installer medium))"),
            std::string::npos)
      << none.error().message();
  disks.push_back({"vdb", 16ull << 30, false, {}});
  auto several = agent::pick_auto_target(disks, "sda");
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.error().message().find("several internal disks (vda, vdb)"), std::string::npos);
}

TEST_F(TempDirTest, ListDisksReadsSysfs) {
  tmp.write("sys/block/vda/size", "2097152\n");
  tmp.write("sys/block/vda/removable", "0\n");
  tmp.write("sys/block/vda/vda1/partition", "1\n");
  tmp.write("sys/block/vda/vda1/uevent", "MAJOR=254\nPARTN=1\nPARTNAME=edgeforge-esp\n");
  tmp.write("sys/block/sdb/size", "4096\n");
  tmp.write("sys/block/sdb/removable", "1\n");
  tmp.write("sys/block/loop0/size", "4096\n");
  tmp.write("sys/block/sr0/size", "4096\n");
  tmp.write("sys/block/vdz/size", "0\n");
  auto disks = agent::list_disks(tmp / "sys");
  ASSERT_EQ(disks.size(), 2u);
  EXPECT_EQ(disks[0].name, "sdb");
  EXPECT_TRUE(disks[0].removable);
  EXPECT_EQ(disks[1].name, "vda");
  EXPECT_EQ(disks[1].size, 1ull << 30);
  EXPECT_EQ(disks[1].partition_labels, std::vector<std::string>{"edgeforge-esp"});
}

TEST(InstallTargetTest, SiteFilesGoToTheOverlayUpperDirs) {
  EXPECT_EQ(agent::persistent_path_for("/etc/hostname"), "overlay/etc/upper/hostname");
  EXPECT_EQ(agent::persistent_path_for("/etc/systemd/network/10-a.network"),
            "overlay/etc/upper/systemd/network/10-a.network");
  EXPECT_EQ(agent::persistent_path_for("/var/lib/x"), "overlay/var/upper/lib/x");
  EXPECT_EQ(agent::persistent_path_for("/usr/local/share/ca-certificates/a.crt"), "");
  EXPECT_EQ(agent::persistent_path_for("/etc/../root/x"), "");
}

}  // namespace
}  // namespace ef::test
