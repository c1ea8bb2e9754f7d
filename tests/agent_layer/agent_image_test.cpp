// Images built with the agent layer, checked with outside tools: unsquashfs
// lists owners, modes and times and extracts files; the host's loader runs
// the extracted agent against its private libraries; openssl derives the
// keyring files; cpio and mtools read the initramfs addition.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <regex>
#include <sstream>

#include "builder/agent_layer/agent_layer.hpp"
#include "builder/build/agent_step.hpp"
#include "builder/build/build.hpp"
#include "tests/support/command.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::agent_layer {
namespace {

using test::run_command;
using test::TarEntry;

constexpr const char* kKernel = "6.1.0-9-amd64";
const std::string kRevoked(64, 'e');

// One `unsquashfs -lln` line: permissions, owner, size, date, time, path.
struct Listed {
  std::string perms, owner, when, target;
};

class AgentImage : public test::TempDirTest {
 protected:
  void SetUp() override {
    if (!test::have_tool("unsquashfs") || !test::have_tool("openssl"))
      GTEST_SKIP() << "needs squashfs-tools and openssl";
    std::string mods = std::string("usr/lib/modules/") + kKernel + "/";
    test::write_tar(tmp / "rootfs.tar",
                    {TarEntry::dir("etc"), TarEntry::file("etc/os-release", "ID=debian\n"),
                     TarEntry::file("usr/bin/sh", "#!sh", 0755),
                     TarEntry::file(std::string("boot/vmlinuz-") + kKernel, "kernel"),
                     TarEntry::file(std::string("boot/initrd.img-") + kKernel, "initrd"),
                     TarEntry::file(mods + "modules.dep",
                                    "kernel/fs/squashfs/squashfs.ko:\n"
                                    "kernel/fs/overlayfs/overlay.ko:\n"
                                    "kernel/lib/crc.ko:\n"
                                    "kernel/fs/isofs/isofs.ko: kernel/lib/crc.ko\n"),
                     TarEntry::file(mods + "kernel/fs/squashfs/squashfs.ko", "squashfs module"),
                     TarEntry::file(mods + "kernel/fs/overlayfs/overlay.ko", "overlay module"),
                     TarEntry::file(mods + "kernel/lib/crc.ko", "crc module"),
                     TarEntry::file(mods + "kernel/fs/isofs/isofs.ko", "isofs module")});
    std::filesystem::create_directories(tmp / "keys");
    ASSERT_EQ(sh("openssl genpkey -algorithm ed25519 -out keys/sign.pem 2>/dev/null").status, 0);
    ASSERT_EQ(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | "
                 "openssl pkey -pubout -out keys/extra.pub")
                  .status,
              0);
  }

  test::CommandOutput sh(const std::string& cmd) {
    return run_command("cd " + tmp.path().string() + " && " + cmd);
  }

  void write_profile(const std::string& agent, const std::string& extra = "") {
    tmp.write(
        "profile.yaml",
        "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: edge\n"
        "  version: 2.0.0\n  epoch: 1700000000\nspec:\n  base:\n    tarball: {path: rootfs.tar}\n"
        "  bundle: {compatible: edge-x86}\n" +
            agent + extra);
  }

  void write_full_profile(const std::string& extra = "") {
    write_profile(
        "  agent:\n"
        "    tries: 2\n"
        "    keyring: [keys/extra.pub]\n"
        "    revoked: [" +
            kRevoked +
            "]\n"
            "    health:\n"
            "      timeoutSeconds: 120\n"
            "      units: [containerd.service]\n"
            "      commands:\n"
            "        - {run: \"/bin/sh -c 'test -e /run/ok'\", timeoutSeconds: 30}\n"
            "    updates: {interval: 1h30m, jitter: 10m, keyring: [keys/extra.pub],\n"
            "              rolloutKeyring: [keys/extra.pub]}\n",
        extra);
  }

  Result<build::BuildResult> build(const std::string& out = "out", bool with_agent = true) {
    build::BuildOptions o;
    o.profile = tmp / "profile.yaml";
    o.output_dir = tmp / out;
    o.cache.dir = tmp / "cache";
    o.workers = 1;
    if (with_agent) o.agent_binary = EF_AGENT_BIN;
    o.sign_keys = {(tmp / "keys/sign.pem").string()};
    return build::build_image(o);
  }

  std::map<std::string, Listed> list(const std::filesystem::path& image) {
    auto out = run_command("TZ=UTC unsquashfs -lln " + image.string());
    EXPECT_EQ(out.status, 0);
    std::map<std::string, Listed> entries;
    std::regex re("^(\\S+) (\\S+) +\\S+ (\\S+ \\S+) squashfs-root(\\S*)( -> (.*))?$");
    std::istringstream in(out.out);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_match(line, m, re)) entries[m[4].str()] = {m[1], m[2], m[3], m[6]};
    }
    return entries;
  }

  std::string cat(const std::filesystem::path& image, const std::string& path) {
    auto out = run_command("unsquashfs -cat " + image.string() + " " + path);
    EXPECT_EQ(out.status, 0) << path;
    return out.out;
  }

  // The key ID edgeforge uses (sha256 of the SubjectPublicKeyInfo DER), by openssl.
  std::string key_id(const std::string& pkey_args) {
    auto out = sh("openssl pkey " + pkey_args + " -pubout -outform DER | sha256sum");
    return out.out.substr(0, 64);
  }
};

TEST_F(AgentImage, ContractFilesWithOwnersModesAndTimes) {
  write_full_profile();
  auto r = build();
  ASSERT_TRUE(r) << r.error().message();
  auto entries = list(r->image);
  const std::string when = "2023-11-14 22:13";  // the profile's epoch
  auto expect = [&](const std::string& path, const std::string& perms) {
    auto it = entries.find(path);
    ASSERT_NE(it, entries.end()) << path << " is not in the image";
    EXPECT_EQ(it->second.perms, perms) << path;
    EXPECT_EQ(it->second.owner, "0/0") << path;
    EXPECT_EQ(it->second.when, when) << path;
  };
  expect("/usr/bin/edgeforge-agent", "-rwxr-xr-x");
  expect("/etc/edgeforge", "drwxr-xr-x");
  expect("/etc/edgeforge/agent.json", "-rw-r--r--");
  expect("/etc/edgeforge/keyring/" + key_id("-in keys/sign.pem") + ".pub", "-rw-r--r--");
  expect("/etc/edgeforge/keyring/" + key_id("-pubin -in keys/extra.pub") + ".pub", "-rw-r--r--");
  expect("/etc/edgeforge/keyring/revoked", "-rw-r--r--");
  expect("/usr/lib/edgeforge/boot/edgeforge.cpio", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-boot.service", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-install.service", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-watch.service", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-watch.timer", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-media@.service", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-report.service", "-rw-r--r--");
  expect("/usr/lib/systemd/system/edgeforge-report.timer", "-rw-r--r--");
  expect("/usr/lib/udev/rules.d/90-edgeforge-media.rules", "-rw-r--r--");
  expect("/usr/lib/edgeforge/media-apply", "-rwxr-xr-x");
  if (test::have_tool("shellcheck")) {
    tmp.write("media-apply", cat(r->image, "/usr/lib/edgeforge/media-apply"));
    auto check = sh("shellcheck media-apply 2>&1");
    EXPECT_EQ(check.status, 0) << check.out;
  }
  expect("/etc/edgeforge/channel-keyring/" + key_id("-pubin -in keys/extra.pub") + ".pub",
         "-rw-r--r--");
  expect("/etc/edgeforge/channel-keyring/rollout/" + key_id("-pubin -in keys/extra.pub") + ".pub",
         "-rw-r--r--");
  for (const char* unit : {"multi-user.target.wants/edgeforge-boot.service",
                           "multi-user.target.wants/edgeforge-install.service",
                           "timers.target.wants/edgeforge-watch.timer",
                           "timers.target.wants/edgeforge-report.timer"}) {
    std::string link = std::string("/etc/systemd/system/") + unit;
    expect(link, "lrwxrwxrwx");
    EXPECT_EQ(entries[link].target,
              "/usr/lib/systemd/system/" + std::filesystem::path(unit).filename().string());
  }
  // spec.agent.updates: 1h30m and 10m; systemd-analyze reads the timer as systemd will.
  std::string timer = cat(r->image, "/usr/lib/systemd/system/edgeforge-watch.timer");
  EXPECT_NE(timer.find("OnUnitActiveSec=5400s\n"), std::string::npos) << timer;
  EXPECT_NE(timer.find("RandomizedDelaySec=600s\n"), std::string::npos) << timer;
  if (test::have_tool("systemd-analyze")) {
    tmp.write("units/edgeforge-watch.timer", timer);
    tmp.write("units/edgeforge-watch.service",
              cat(r->image, "/usr/lib/systemd/system/edgeforge-watch.service"));
    auto verify = sh("cd units && systemd-analyze verify --man=no ./edgeforge-watch.timer 2>&1");
    EXPECT_EQ(verify.out.find("nknown"), std::string::npos) << verify.out;
    for (const char* unit : {"edgeforge-report.timer", "edgeforge-report.service"})
      tmp.write(std::string("units/") + unit,
                cat(r->image, std::string("/usr/lib/systemd/system/") + unit));
    verify = sh("cd units && systemd-analyze verify --man=no ./edgeforge-report.timer 2>&1");
    EXPECT_EQ(verify.out.find("nknown"), std::string::npos) << verify.out;
  }
  // Every non-glibc library the host's loader resolves, and nothing else.
  auto ldd = run_command(std::string("ldd ") + EF_AGENT_BIN +
                         " | awk '/=> \\//{print $1}' | grep -Ev "
                         "'^(libc|libm|libresolv|libpthread|libdl|librt)\\.so'");
  std::istringstream libs(ldd.out);
  size_t count = 0;
  for (std::string lib; std::getline(libs, lib); ++count)
    expect("/usr/lib/edgeforge/lib/" + lib, "-rwxr-xr-x");
  size_t in_image = 0;
  for (const auto& [path, e] : entries)
    if (path.starts_with("/usr/lib/edgeforge/lib/")) ++in_image;
  EXPECT_EQ(in_image, count);
  EXPECT_GT(count, 0u);

  // Every added file is an input of the manifest, with the digest of what
  // the image holds.
  std::map<std::string, std::string> recorded;
  for (const auto& in : r->manifest_json["inputs"])
    if (in.value("role", "") == "agent") recorded[in["path"]] = in["sha256"];
  // binary, libraries, agent.json, two keys, revoked, a channel key, a rollout
  // key, seven units, the media rule and script, cpio
  EXPECT_EQ(recorded.size(), count + 17);
  for (const auto& [path, digest] : recorded)
    EXPECT_EQ(sha256_hex(cat(r->image, path)), digest) << path;
  EXPECT_EQ(r->manifest_json["agent"]["glibcCeiling"], "2.35");
}

TEST_F(AgentImage, PrivateLibrariesAreCompleteAndTheAgentRuns) {
  write_full_profile();
  auto r = build();
  ASSERT_TRUE(r) << r.error().message();
  auto x = tmp / "x";
  ASSERT_EQ(run_command("unsquashfs -q -n -d " + x.string() + " " + r->image.string() +
                        " usr/bin/edgeforge-agent usr/lib/edgeforge/lib >/dev/null")
                .status,
            0);
  EXPECT_EQ(*sha256_file(x / "usr/bin/edgeforge-agent"), *sha256_file(EF_AGENT_BIN));
  std::string env = "env -i LD_LIBRARY_PATH=" + (x / "usr/lib/edgeforge/lib").string() + " ";
  auto version = run_command(env + (x / "usr/bin/edgeforge-agent").string() + " --version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("edgeforge-agent ", 0), 0u) << version.out;
  // Every library the loader resolves comes from the private copies or glibc.
  auto ldd = run_command(env + "ldd " + (x / "usr/bin/edgeforge-agent").string());
  ASSERT_EQ(ldd.status, 0);
  std::istringstream in(ldd.out);
  int private_libs = 0;
  for (std::string line; std::getline(in, line);) {
    auto arrow = line.find(" => ");
    if (arrow == std::string::npos) continue;
    std::string soname =
        line.substr(line.find_first_not_of(" \t"), arrow - line.find_first_not_of(" \t"));
    std::string path = line.substr(arrow + 4);
    if (is_glibc_library(soname)) continue;
    EXPECT_EQ(path.rfind((x / "usr/lib/edgeforge/lib").string(), 0), 0u) << line;
    ++private_libs;
  }
  EXPECT_GT(private_libs, 0);
}

TEST_F(AgentImage, ConfigKeyringAndUnitsFollowTheProfile) {
  write_full_profile();
  auto r = build();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(cat(r->image, "/etc/edgeforge/agent.json"),
            "{\"compatible\":\"edge-x86\",\"health\":{\"commands\":[{\"run\":\"/bin/sh -c 'test -e "
            "/run/ok'\",\"timeoutSeconds\":30}],\"timeoutSeconds\":120,\"units\":[\"containerd."
            "service\"]},\"keyring\":\"/etc/edgeforge/keyring\",\"product\":\"edge\",\"tries\":2,"
            "\"version\":\"2.0.0\"}");
  auto sign_pub = sh("openssl pkey -in keys/sign.pem -pubout");
  EXPECT_EQ(cat(r->image, "/etc/edgeforge/keyring/" + key_id("-in keys/sign.pem") + ".pub"),
            sign_pub.out);
  auto extra_pub = sh("openssl pkey -pubin -in keys/extra.pub");
  EXPECT_EQ(cat(r->image, "/etc/edgeforge/keyring/" + key_id("-pubin -in keys/extra.pub") + ".pub"),
            extra_pub.out);
  EXPECT_NE(cat(r->image, "/etc/edgeforge/keyring/revoked").find(kRevoked + "\n"),
            std::string::npos);
  std::string boot = cat(r->image, "/usr/lib/systemd/system/edgeforge-boot.service");
  for (const char* line :
       {"Type=oneshot", "ExecStart=/usr/bin/edgeforge-agent boot", "StandardOutput=journal+console",
        "After=local-fs.target network.target", "WantedBy=multi-user.target"})
    EXPECT_NE(boot.find(std::string("\n") + line + "\n"), std::string::npos) << line;
  std::string install = cat(r->image, "/usr/lib/systemd/system/edgeforge-install.service");
  for (const char* line :
       {"Type=oneshot", "ConditionKernelCommandLine=edgeforge.install=1",
        "ExecStart=/usr/bin/edgeforge-agent install --auto", "StandardOutput=journal+console",
        "After=local-fs.target systemd-udev-settle.service", "WantedBy=multi-user.target"})
    EXPECT_NE(install.find(std::string("\n") + line + "\n"), std::string::npos) << line;
  EXPECT_EQ(install.find("StandardInput"), std::string::npos);
  if (test::have_tool("systemd-analyze")) {
    tmp.write("units/edgeforge-boot.service", boot);
    tmp.write("units/edgeforge-install.service", install);
    auto verify =
        sh("cd units && systemd-analyze verify --man=no ./edgeforge-boot.service "
           "./edgeforge-install.service 2>&1");
    EXPECT_EQ(verify.out.find("nknown"), std::string::npos) << verify.out;
  }
}

TEST_F(AgentImage, InitramfsAdditionIsBuiltFromTheImageAndUsedOnEspAndIso) {
  write_full_profile(
      "  output:\n    formats: [squashfs, raw, iso]\n"
      "    disk: {espSize: 64, slotSize: 64, persistentSize: 16}\n");
  auto r = build();
  ASSERT_TRUE(r) << r.error().message();
  std::string cpio = cat(r->image, "/usr/lib/edgeforge/boot/edgeforge.cpio");
  tmp.write("addition.cpio", cpio);
  if (test::have_tool("cpio")) {
    auto names = sh("cpio -it --quiet < addition.cpio");
    for (const char* name : {"edgeforge/modules/squashfs.ko", "edgeforge/modules/overlay.ko",
                             "edgeforge/modules/crc.ko", "edgeforge/modules/isofs.ko",
                             "edgeforge/persistent-paths", "scripts/edgeforge"})
      EXPECT_NE(names.out.find(std::string(name) + "\n"), std::string::npos) << name;
    auto order = sh("cpio -i --quiet --to-stdout edgeforge/modules/order < addition.cpio");
    EXPECT_EQ(order.out, "squashfs.ko\noverlay.ko\ncrc.ko\nisofs.ko\n");
  }
  if (test::have_tool("mcopy")) {
    auto raw = tmp / "out/edge-2.0.0.raw";
    ASSERT_TRUE(std::filesystem::exists(raw));
    // The ESP starts at 1 MiB (docs/disk-layout.md).
    ASSERT_EQ(run_command("mcopy -n -i " + raw.string() + "@@1048576 ::/slot-a/edgeforge.cpio " +
                          (tmp / "esp.cpio").string())
                  .status,
              0);
    EXPECT_EQ(*sha256_file(tmp / "esp.cpio"), sha256_hex(cpio));
  }
  if (test::have_tool("xorriso")) {
    ASSERT_EQ(sh("xorriso -osirrox on -indev out/edge-2.0.0.iso -extract /boot/edgeforge.cpio "
                 "iso.cpio >/dev/null 2>&1")
                  .status,
              0);
    EXPECT_EQ(*sha256_file(tmp / "iso.cpio"), sha256_hex(cpio));
  }
}

TEST_F(AgentImage, TwoBuildsGiveIdenticalBytes) {
  write_full_profile();
  auto a = build("a");
  ASSERT_TRUE(a) << a.error().message();
  auto b = build("b");
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(a->image_sha256, b->image_sha256);
  EXPECT_EQ(a->manifest_json["inputs"], b->manifest_json["inputs"]);
}

TEST_F(AgentImage, DisabledAddsNothing) {
  write_profile("  agent: {enabled: false}\n");
  auto r = build("out", /*with_agent=*/false);  // no binary needed either
  ASSERT_TRUE(r) << r.error().message();
  auto entries = list(r->image);
  for (const auto& [path, e] : entries) {
    EXPECT_EQ(path.find("edgeforge"), std::string::npos) << path;
    EXPECT_EQ(path.find("systemd"), std::string::npos) << path;
  }
  EXPECT_FALSE(r->manifest_json.contains("agent"));
  for (const auto& in : r->manifest_json["inputs"]) EXPECT_NE(in.value("role", ""), "agent");
}

TEST_F(AgentImage, AMissingAgentIsOneLineSayingWhatToDo) {
  write_full_profile();
  const char* saved = std::getenv("EDGEFORGE_AGENT");
  std::string keep = saved ? saved : "";
  ::unsetenv("EDGEFORGE_AGENT");
  auto r = build("out", /*with_agent=*/false);
  if (saved) ::setenv("EDGEFORGE_AGENT", keep.c_str(), 1);
  ASSERT_FALSE(r);
  const std::string& m = r.error().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_NE(m.find("--agent-binary"), std::string::npos) << m;
  EXPECT_NE(m.find("spec.agent.enabled: false"), std::string::npos) << m;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out/edge-2.0.0.squashfs"));
}

TEST_F(AgentImage, ASignKeyThatDoesNotLoadFailsTheBuild) {
  write_full_profile();
  tmp.write("keys/sign.pem", "not a key");
  auto r = build();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("--sign-key " + (tmp / "keys/sign.pem").string()),
            std::string::npos)
      << r.error().message();
  EXPECT_FALSE(std::filesystem::exists(tmp / "out/edge-2.0.0.squashfs"));
}

TEST(AgentConfig, DefaultUnitsComeFromTheKubernetesLayer) {
  cluster::NodeLayer layer;
  EXPECT_TRUE(build::default_health_units(layer).empty());
  layer.enabled_units = {"k3s-agent.service", "other.service"};
  EXPECT_EQ(build::default_health_units(layer), std::vector<std::string>{"k3s-agent.service"});
  profile::Profile p;
  p.name = "store";
  p.version = "1.0.0";
  auto text = agent_config(p, {"kubelet.service"});
  ASSERT_TRUE(text);
  EXPECT_EQ(*text,
            "{\"compatible\":\"store\",\"health\":{\"commands\":[],\"timeoutSeconds\":300,"
            "\"units\":[\"kubelet.service\"]},\"keyring\":\"/etc/edgeforge/keyring\",\"product\":"
            "\"store\",\"tries\":3,\"version\":\"1.0.0\"}");
  p.agent.health_units = std::vector<std::string>{};  // explicitly none wins over the default
  EXPECT_NE(agent_config(p, {"kubelet.service"})->find("\"units\":[]"), std::string::npos);
}

}  // namespace
}  // namespace ef::agent_layer
