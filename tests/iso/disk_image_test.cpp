// The A/B disk image from a small synthetic image, checked with sfdisk,
// fsck.vfat, e2fsck and grub-editenv (none of them written here).
#include "iso/disk_image.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

class DiskImageTest : public TempDirTest {
 protected:
  void SetUp() override {
    tmp.write("root/boot/vmlinuz-6.1.0-2-amd64", std::string(100000, 'k'));
    tmp.write("root/boot/initrd.img-6.1.0-2-amd64", std::string(200000, 'i'));
    tmp.write("root/usr/lib/modules/6.1.0-2-amd64/modules.dep",
              "kernel/fs/squashfs/squashfs.ko:\nkernel/fs/overlayfs/overlay.ko:\n");
    tmp.write("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/squashfs/squashfs.ko", "sq");
    tmp.write("root/usr/lib/modules/6.1.0-2-amd64/kernel/fs/overlayfs/overlay.ko", "ov");
    ASSERT_EQ(run_command("mksquashfs " + (tmp / "root").string() + " " + image().string() +
                          " -quiet -no-progress -mkfs-time 0 -all-time 0")
                  .status,
              0);
  }
  std::filesystem::path image() const { return tmp / "slot.squashfs"; }
  iso::DiskSpec spec() const {
    iso::DiskSpec s;
    s.squashfs = image();
    s.layout = {16 * iso::kMiB, 8 * iso::kMiB, 16 * iso::kMiB};
    s.epoch = 1747699200;
    s.persistent_paths = {"/home"};
    return s;
  }
  // Extracts a partition to its own file for the filesystem checkers.
  std::filesystem::path extract(const iso::Partition& p, const std::string& name) {
    auto out = tmp / name;
    EXPECT_EQ(run_command("dd if=" + (tmp / "disk.raw").string() + " of=" + out.string() +
                          " bs=1M skip=" + std::to_string(p.offset / iso::kMiB) +
                          " count=" + std::to_string(p.size / iso::kMiB) + " status=none")
                  .status,
              0);
    return out;
  }
};

TEST_F(DiskImageTest, GptFilesystemsAndGrubenvPassOutsideCheckers) {
  auto info = iso::build_raw_disk(spec(), tmp / "disk.raw", tmp / "work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  auto table = run_command("sfdisk --json " + (tmp / "disk.raw").string());
  ASSERT_EQ(table.status, 0);
  auto pt = nlohmann::json::parse(table.out)["partitiontable"];
  EXPECT_EQ(pt["label"], "gpt");
  std::string id = pt["id"];
  for (auto& c : id) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(id, info->disk_guid);
  ASSERT_EQ(pt["partitions"].size(), 5u);
  const char* names[] = {"edgeforge-esp", "edgeforge-slot-a", "edgeforge-slot-b",
                         "edgeforge-persist", "edgeforge-bios"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(pt["partitions"][i]["name"], names[i]);
    EXPECT_EQ(pt["partitions"][i]["start"].get<uint64_t>() * 512, info->partitions[i].offset);
    EXPECT_EQ(pt["partitions"][i]["size"].get<uint64_t>() * 512, info->partitions[i].size);
  }
  EXPECT_EQ(pt["partitions"][0]["type"], "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
  // GRUB for BIOS: the bios_grub partition in the gap before the ESP, boot
  // code in the MBR (the protective partition table intact, say sfdisk and file).
  EXPECT_EQ(pt["partitions"][4]["type"], "21686148-6449-6E6F-744E-656564454649");
  EXPECT_EQ(pt["partitions"][4]["start"], 34);
  auto mbr = run_command("file -b " + (tmp / "disk.raw").string()).out;
  EXPECT_NE(mbr.find("DOS/MBR boot sector"), std::string::npos) << mbr;

  auto esp = extract(info->partitions[0], "esp.img");
  EXPECT_EQ(run_command("fsck.vfat -n " + esp.string() + " >/dev/null").status, 0);
  auto listing = run_command("MTOOLS_SKIP_CHECK=1 mdir -/ -b -i " + esp.string() + " ::");
  for (const char* f : {"::/EFI/BOOT/BOOTX64.EFI", "::/grub/grub.cfg", "::/grub/grubenv",
                        "::/slot-a/vmlinuz", "::/slot-a/initrd.img", "::/slot-a/edgeforge.cpio"})
    EXPECT_NE(listing.out.find(f), std::string::npos) << f << "\n" << listing.out;
  ASSERT_EQ(run_command("MTOOLS_SKIP_CHECK=1 mcopy -i " + esp.string() + " ::/grub/grubenv " +
                        (tmp / "grubenv").string())
                .status,
            0);
  auto env = run_command("grub-editenv " + (tmp / "grubenv").string() + " list");
  EXPECT_EQ(env.out, "A_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\nORDER=A B\n");

  auto persist = extract(info->partitions[3], "persist.img");
  EXPECT_EQ(run_command("e2fsck -fn " + persist.string() + " >/dev/null 2>&1").status, 0);
  auto label = run_command("e2label " + persist.string());
  EXPECT_EQ(label.out, "edgeforge-data\n");  // ext4 labels hold 16 bytes

  auto slot = extract(info->partitions[1], "slot-a.img");
  auto slot_files = run_command("unsquashfs -l " + slot.string() + " | grep -c vmlinuz");
  EXPECT_EQ(slot_files.out, "1\n");
}

TEST_F(DiskImageTest, SameInputsSameBytes) {
  ASSERT_TRUE(iso::build_raw_disk(spec(), tmp / "a.raw", tmp / "wa").ok());
  ASSERT_TRUE(iso::build_raw_disk(spec(), tmp / "b.raw", tmp / "wb").ok());
  EXPECT_EQ(sha256_file(tmp / "a.raw").value(), sha256_file(tmp / "b.raw").value());
}

TEST_F(DiskImageTest, SlotTooSmallFailsAtBuildTime) {
  auto s = spec();
  s.layout.slot_size = iso::kMiB;
  tmp.write("root/big", std::string(3 << 20, 'z'));
  ASSERT_EQ(run_command("mksquashfs " + (tmp / "root").string() + " " + image().string() +
                        " -noappend -quiet -no-progress -noD")
                .status,
            0);
  auto r = iso::build_raw_disk(s, tmp / "disk.raw", tmp / "work");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("slotSize"), std::string::npos) << r.error().message();
  EXPECT_FALSE(std::filesystem::exists(tmp / "disk.raw"));
}

TEST_F(DiskImageTest, QcowConversion) {
  ASSERT_TRUE(iso::build_raw_disk(spec(), tmp / "disk.raw", tmp / "work").ok());
  ASSERT_TRUE(iso::convert_to_qcow2(tmp / "disk.raw", tmp / "disk.qcow2").ok());
  EXPECT_EQ(run_command("qemu-img compare -q " + (tmp / "disk.raw").string() + " " +
                        (tmp / "disk.qcow2").string())
                .status,
            0);
}

// Relative paths work whatever the tools' working directory, and a colon in
// a name is no qemu-img protocol ("v1:disk.qcow2" is not the "v1" protocol).
TEST_F(DiskImageTest, RelativePathsAndColonsInNames) {
  struct Cwd {
    std::filesystem::path saved = std::filesystem::current_path();
    ~Cwd() { std::filesystem::current_path(saved); }
  } cwd;
  std::filesystem::current_path(tmp.path());
  auto s = spec();
  s.squashfs = "slot.squashfs";
  auto built = iso::build_raw_disk(s, "v1:disk.raw", "work");
  ASSERT_TRUE(built.ok()) << built.error().message();
  auto converted = iso::convert_to_qcow2("v1:disk.raw", "v1:disk.qcow2");
  ASSERT_TRUE(converted.ok()) << converted.error().message();
  EXPECT_EQ(run_command("qemu-img compare -q -f raw -F qcow2 " + (tmp / "v1:disk.raw").string() +
                        " " + (tmp / "v1:disk.qcow2").string())
                .status,
            0);
  EXPECT_FALSE(std::filesystem::exists(tmp / "v1:disk.qcow2.tmp"));
}

TEST(DiskGuid, DerivedFromSeedAndName) {
  auto a = iso::derive_guid("seed", "disk");
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_EQ(a, iso::derive_guid("seed", "disk"));
  EXPECT_NE(a, iso::derive_guid("seed", "esp"));
}

}  // namespace
}  // namespace ef::test

#include "image/squashfs_reader.hpp"
#include "iso/disk_reader.hpp"
#include "iso/ext4_reader.hpp"

namespace ef::test {
namespace {

class DiskReaderTest : public DiskImageTest {};

TEST_F(DiskReaderTest, OwnGptReaderAndEspFilesMatchWhatWasWritten) {
  auto info = iso::build_raw_disk(spec(), tmp / "disk.raw", tmp / "work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_TRUE(iso::is_gpt_disk(tmp / "disk.raw"));
  EXPECT_FALSE(iso::is_gpt_disk(image()));
  auto parts = iso::read_gpt(tmp / "disk.raw");
  ASSERT_TRUE(parts.ok()) << parts.error().message();
  ASSERT_EQ(parts->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*parts)[i].name, info->partitions[i].name);
    EXPECT_EQ((*parts)[i].offset, info->partitions[i].offset);
    EXPECT_EQ((*parts)[i].size, info->partitions[i].size);
    EXPECT_EQ((*parts)[i].guid, info->partitions[i].guid);
  }
  auto env = iso::read_fat_file(tmp / "disk.raw", (*parts)[0], "/grub/grubenv");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->size(), 1024u);
  auto files = iso::list_fat_files(tmp / "disk.raw", (*parts)[0]);
  ASSERT_TRUE(files.ok());
  EXPECT_NE(std::find(files->begin(), files->end(), "/slot-a/vmlinuz"), files->end());
}

// The slots are read as squashfs at their partition's offset: slot A lists
// what the image lists, empty slot B is no image.
TEST_F(DiskReaderTest, SlotsAreReadAtTheirOffset) {
  auto info = iso::build_raw_disk(spec(), tmp / "disk.raw", tmp / "work");
  ASSERT_TRUE(info.ok()) << info.error().message();
  const auto& a = info->partitions[1];
  auto slot = image::ImageReader::open(tmp / "disk.raw", a.offset, a.size);
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  auto direct = image::ImageReader::open(image());
  ASSERT_TRUE(direct.ok());
  auto from_slot = (*slot)->list();
  auto from_file = (*direct)->list();
  ASSERT_TRUE(from_slot.ok() && from_file.ok());
  ASSERT_EQ(from_slot->size(), from_file->size());
  for (size_t i = 0; i < from_slot->size(); ++i)
    EXPECT_EQ((*from_slot)[i].path, (*from_file)[i].path);
  std::string kernel;
  ASSERT_TRUE((*slot)->read_file("/boot/vmlinuz-6.1.0-2-amd64",
                                 [&](const void* d, size_t n) -> Result<void> {
                                   kernel.append(static_cast<const char*>(d), n);
                                   return Ok{};
                                 }));
  EXPECT_EQ(kernel, std::string(100000, 'k'));
  const auto& b = info->partitions[2];
  EXPECT_FALSE(image::ImageReader::open(tmp / "disk.raw", b.offset, b.size).ok());
}

// libext2fs reads an ext4 filesystem at an offset into a file; the oracle is
// the directory mke2fs (e2fsprogs) copied into it.
class Ext4ReaderTest : public TempDirTest {};

TEST_F(Ext4ReaderTest, ListsAndReadsWhatMke2fsCopied) {
  tmp.write("src/etc/hostname", "edge-1\n");
  tmp.write("src/var/lib/big", std::string(300000, 'b'));
  tmp.write("src/upper/etc/motd", "changed\n");
  std::filesystem::create_symlink("../etc/hostname", tmp / "src/var/short-link");
  std::string long_target =
      "/" + std::string(100, 'x') + "/" + std::string(100, 'y');  // not a fast symlink
  std::filesystem::create_symlink(long_target, tmp / "src/var/long-link");
  ASSERT_EQ(::mkfifo((tmp / "src/var/fifo").c_str(), 0600), 0);
  std::filesystem::permissions(tmp / "src/var/lib/big", std::filesystem::perms(0640));
  // 1 MiB of something else first: the filesystem starts at an offset.
  ASSERT_EQ(
      run_command("cd " + tmp.path().string() + " && head -c 1048576 /dev/urandom > disk && " +
                  "mke2fs -q -F -t ext4 -d src -E root_owner=0:0 fs.img 8M && cat fs.img >> disk")
          .status,
      0);
  auto entries = iso::list_ext4(tmp / "disk", 1 << 20);
  ASSERT_TRUE(entries.ok()) << entries.error().message();
  std::map<std::string, image::ImageEntry> got;
  for (const auto& e : *entries) got[e.path] = e;
  EXPECT_EQ(entries->front().path, "/");
  ASSERT_TRUE(got.count("/etc/hostname"));
  EXPECT_EQ(got["/etc/hostname"].size, 7u);
  EXPECT_EQ(got["/var/lib/big"].size, 300000u);
  EXPECT_EQ(got["/var/lib/big"].mode, 0640u);
  EXPECT_EQ(got["/var/short-link"].type, image::NodeType::symlink);
  EXPECT_EQ(got["/var/short-link"].target, "../etc/hostname");
  EXPECT_EQ(got["/var/long-link"].target, long_target);
  EXPECT_EQ(got["/var/fifo"].type, image::NodeType::fifo);
  EXPECT_EQ(got["/upper/etc"].type, image::NodeType::directory);
  EXPECT_TRUE(got.count("/lost+found"));
  // Every entry below /, children in name order (depth-first).
  for (size_t i = 1; i < entries->size(); ++i)
    EXPECT_LT((*entries)[i - 1].path, (*entries)[i].path);

  auto big = iso::read_ext4_file(tmp / "disk", 1 << 20, "/var/lib/big");
  ASSERT_TRUE(big.ok()) << big.error().message();
  EXPECT_EQ(*big, std::string(300000, 'b'));
  auto via_link = iso::read_ext4_file(tmp / "disk", 1 << 20, "/var/short-link");
  ASSERT_TRUE(via_link.ok()) << via_link.error().message();
  EXPECT_EQ(*via_link, "edge-1\n");
  auto missing = iso::read_ext4_file(tmp / "disk", 1 << 20, "/etc/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/etc/nope"), std::string::npos);
  auto dir = iso::read_ext4_file(tmp / "disk", 1 << 20, "/etc");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message().find("not a regular file"), std::string::npos);
  auto not_ext4 = iso::list_ext4(tmp / "disk", 0);
  ASSERT_FALSE(not_ext4.ok());
  EXPECT_NE(not_ext4.error().message().find("no ext4 filesystem at offset 0"), std::string::npos);
}

}  // namespace
}  // namespace ef::test
