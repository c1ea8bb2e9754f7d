// Builds the shipped quick-start profile for real and checks the image with
// outside tools; then checks reproducibility across directories, worker
// counts and users (root vs nobody) on the same real base.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "builder/tree/archive_reader.hpp"
#include "image/squashfs_reader.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string cache_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/edgeforge";
}

// "./etc/x" -> "/etc/x", as the image reader names entries.
std::string image_path(const std::string& raw) {
  auto parts = tree::split_path(raw);
  if (!parts) return raw;
  std::string path;
  for (const auto& p : parts.value()) path += "/" + p;
  return path.empty() ? "/" : path;
}

std::string quickstart() {
  return std::string(EF_SOURCE_DIR) + "/examples/quickstart/profile.yaml";
}

// The quick-start image is built once for all tests here.
class QuickstartE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    out_ = new TempDir();
    ::chmod(out_->path().c_str(), 0755);
    auto r =
        run_command(std::string(EF_EDGEFORGE_BIN) + " build -q --json --cache-dir " + cache_dir() +
                    " --profile " + quickstart() + " --output " + out_->path().string());
    status_ = r.status;
    if (r.status == 0) summary_ = json::parse(r.out);
  }
  static void TearDownTestSuite() {
    delete out_;
    out_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(status_, 0) << "edgeforge build of the quick-start profile failed";
  }

  static fs::path image() { return out_->path() / "quickstart-0.1.0.squashfs"; }
  static json manifest() {
    return json::parse(*read_file(out_->path() / "quickstart-0.1.0.manifest.json"));
  }
  static fs::path base_tarball() {
    return fs::path(cache_dir()) / "keyed" /
           (manifest()["inputs"][0]["recipe"]["cacheKey"].get<std::string>() + ".tar");
  }

  static TempDir* out_;
  static int status_;
  static json summary_;
};

TempDir* QuickstartE2E::out_ = nullptr;
int QuickstartE2E::status_ = -1;
json QuickstartE2E::summary_;

TEST_F(QuickstartE2E, ImageIsADebianBookwormRootWithTheProfilesLayers) {
  auto cat = [&](const std::string& path) {
    return run_command("unsquashfs -cat " + image().string() + " " + path + " 2>/dev/null").out;
  };
  EXPECT_NE(cat("usr/lib/os-release").find("VERSION_CODENAME=bookworm"), std::string::npos);
  EXPECT_EQ(cat("etc/hostname"), "edge-quickstart\n");
  EXPECT_NE(cat("etc/issue").find("edgeforge quickstart"), std::string::npos);
  auto listing = run_command("unsquashfs -lln " + image().string());
  ASSERT_EQ(listing.status, 0);
  EXPECT_NE(listing.out.find("squashfs-root/etc/os-release -> ../usr/lib/os-release"),
            std::string::npos);
  EXPECT_NE(listing.out.find("squashfs-root/usr/sbin/init -> /lib/systemd/systemd"),
            std::string::npos);
  EXPECT_NE(listing.out.find("squashfs-root/boot/vmlinuz-"), std::string::npos);
  // The agent layer, with the initramfs addition built from Debian's own
  // modules (cpio oracle: squashfs, overlay and isofs with dependencies).
  EXPECT_NE(listing.out.find("squashfs-root/usr/bin/edgeforge-agent\n"), std::string::npos);
  EXPECT_NE(listing.out.find("multi-user.target.wants/edgeforge-boot.service -> "
                             "/usr/lib/systemd/system/edgeforge-boot.service"),
            std::string::npos);
  auto modules = run_command("unsquashfs -cat " + image().string() +
                             " usr/lib/edgeforge/boot/edgeforge.cpio | cpio -it --quiet");
  for (const char* ko : {"edgeforge/modules/squashfs.ko", "edgeforge/modules/overlay.ko",
                         "edgeforge/modules/isofs.ko"})
    EXPECT_NE(modules.out.find(ko), std::string::npos) << modules.out;
  auto m = manifest();
  EXPECT_EQ(m["image"]["sha256"], *sha256_file(image()));
  EXPECT_EQ(m["epoch"], 1747699200);
  bool has_systemd = false;
  for (const auto& p : m["packages"]) has_systemd = has_systemd || p["name"] == "systemd-sysv";
  EXPECT_TRUE(has_systemd);
  EXPECT_GT(m["entries"]["files"].get<int>(), 5000);
}

// Every entry of the mmdebstrap base, read with libarchive, is in the image
// with the same type, mode, owner, size, link target and xattrs (unless a
// profile layer replaced it), as libsquashfs reads it back.
TEST_F(QuickstartE2E, EveryBaseEntryIsPreserved) {
  auto reader = image::ImageReader::open(image());
  ASSERT_TRUE(reader);
  auto listed = (*reader)->list();
  ASSERT_TRUE(listed);
  std::map<std::string, image::ImageEntry> got;
  for (auto& e : listed.value()) got[e.path] = e;

  tree::SourceInfo src;
  src.path = base_tarball().string();
  auto archive = tree::ArchiveReader::open(src);
  ASSERT_TRUE(archive) << archive.error().message();
  tree::ArchiveEntry entry;
  size_t compared = 0;
  std::map<std::string, std::string> hardlinks;
  while (*(*archive)->next(entry)) {
    std::string path = image_path(entry.path);
    if (path == "/etc/hostname" || path == "/etc/issue" || path == "/etc/motd" ||
        path == "/etc/systemd/journald.conf" || path == "/" || path == "/etc" ||
        path == "/etc/systemd")
      continue;  // replaced by the profile's layers
    SCOPED_TRACE(path);
    ASSERT_TRUE(got.count(path));
    const auto& e = got.at(path);
    if (!entry.hardlink.empty()) {
      EXPECT_GE(e.nlink, 2u);
      ++compared;
      continue;
    }
    EXPECT_EQ(e.type, entry.inode.type);
    EXPECT_EQ(e.mode, entry.inode.mode);
    EXPECT_EQ(e.uid, entry.inode.uid);
    EXPECT_EQ(e.gid, entry.inode.gid);
    EXPECT_EQ(e.mtime, std::min<int64_t>(entry.inode.mtime, 1747699200));
    if (e.type == tree::NodeType::regular) {
      EXPECT_EQ(e.size, entry.inode.size);
    }
    if (e.type == tree::NodeType::symlink) {
      EXPECT_EQ(e.target, entry.inode.target);
    }
    std::map<std::string, std::string> want;
    for (const auto& [k, v] : entry.inode.xattrs)
      if (k.rfind("system.", 0) != 0) want[k] = v;
    EXPECT_EQ(e.xattrs, want);
    ++compared;
  }
  EXPECT_GT(compared, 10000u);
}

// sqfs2tar (squashfs-tools-ng) + sha256 of every file against the base.
TEST_F(QuickstartE2E, FileContentsMatchTheBase) {
  if (!have_tool("sqfs2tar")) GTEST_SKIP() << "sqfs2tar not installed";
  TempDir tmp;
  auto back = tmp / "back.tar";
  ASSERT_EQ(run_command("sqfs2tar --no-xattr " + image().string() + " > " + back.string() +
                        " 2>/dev/null")
                .status,
            0);
  auto digests = [](const fs::path& tar) {
    std::map<std::string, std::string> out;
    tree::SourceInfo src;
    src.path = tar.string();
    auto reader = tree::ArchiveReader::open(src);
    tree::ArchiveEntry e;
    while (*(*reader)->next(e)) {
      if (e.inode.type != tree::NodeType::regular || !e.hardlink.empty()) continue;
      Sha256 h;
      auto ok = (*reader)->read_data(e.inode.size, [&](const void* d, size_t n) -> Result<void> {
        h.update(d, n);
        return Ok{};
      });
      if (!ok) break;
      out[image_path(e.path)] = h.hex_digest();
    }
    return out;
  };
  auto want = digests(base_tarball());
  auto got = digests(back);
  size_t compared = 0;
  for (const auto& [path, digest] : want) {
    if (path == "/etc/hostname" || path == "/etc/issue" || path == "/etc/motd" ||
        path == "/etc/systemd/journald.conf")
      continue;                      // replaced by the profile's layers
    if (!got.count(path)) continue;  // hard-linked names appear once in sqfs2tar's data
    EXPECT_EQ(got.at(path), digest) << path;
    ++compared;
  }
  EXPECT_GT(compared, 5000u);
}

// The same real base, built as root and as nobody, from two directories,
// with one and two workers: the same bytes.
TEST_F(QuickstartE2E, ReproducibleAcrossUsersDirectoriesAndWorkers) {
  TempDir tmp;
  ::chmod(tmp.path().c_str(), 0777);
  for (const std::string dir : {"a", "b/c"}) {
    fs::create_directories(tmp / dir);
    fs::copy_file(base_tarball(), tmp / dir / "rootfs.tar");
    tmp.write(dir + "/profile.yaml",
              "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: repro\n  "
              "version: 1.0.0\n"
              "spec:\n  base:\n    tarball: {path: rootfs.tar}\n  layers:\n    - files:\n"
              "        - {path: /etc/motd, content: \"same\\n\"}\n  output:\n    level: 3\n");
  }
  run_command("chmod -R a+rwX " + tmp.path().string());
  auto as_root = run_command(std::string(EF_EDGEFORGE_BIN) + " build -q -j 2 -p " +
                             (tmp / "a/profile.yaml").string() + " -o " + (tmp / "a/out").string());
  ASSERT_EQ(as_root.status, 0);
  auto as_nobody = run_command(
      "setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=" + tmp.path().string() + " " +
      EF_EDGEFORGE_BIN + " build -q -j 1 -p " + (tmp / "b/c/profile.yaml").string() + " -o " +
      (tmp / "b/c/out").string());
  ASSERT_EQ(as_nobody.status, 0);
  EXPECT_EQ(*sha256_file(tmp / "a/out/repro-1.0.0.squashfs"),
            *sha256_file(tmp / "b/c/out/repro-1.0.0.squashfs"));
  EXPECT_EQ(*read_file(tmp / "a/out/repro-1.0.0.manifest.json"),
            *read_file(tmp / "b/c/out/repro-1.0.0.manifest.json"));
}

// A second build finds the base in the cache: mmdebstrap does not run again.
TEST_F(QuickstartE2E, SecondBuildUsesTheCachedBase) {
  TempDir tmp;
  auto r = run_command(std::string(EF_EDGEFORGE_BIN) + " validate --offline --cache-dir " +
                       cache_dir() + " --profile " + quickstart());
  EXPECT_EQ(r.status, 0) << "the base should be cached after the first build";
}

}  // namespace
}  // namespace ef::test
