// Issue 6's acceptance in QEMU (UEFI, OVMF, TCG): a device made from the
// builder's raw disk image with the agent in it upgrades v1 -> v2, refuses
// tampered, foreign, revoked, wrong-board and downgrade bundles without
// touching grubenv or its journal, comes back by itself from a v3 whose
// health check fails and from a v4 whose kernel panics, keeps /var and /etc
// through all of it, and survives power cuts (the VM killed) at 20 points of
// an upgrade: payload write, read-back, kernel install and boot switch.
//
// The guest side is tests/agent/e2e/guest (a probe unit that reports on the
// serial console and takes the next step). One device per run; the tests
// run in order and share it.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "iso/vm.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

extern char** environ;

namespace ef::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string cache_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/edgeforge";
}

std::string edgeforge() {
  return EF_EDGEFORGE_BIN;
}

// A QEMU run whose serial console the test reads while it runs, so it can
// cut the power (SIGKILL) at a chosen moment.
class Vm {
 public:
  Vm(const fs::path& disk, const fs::path& bundles, const fs::path& dir, const std::string& name,
     const std::string& mode)
      : log_(dir / (name + ".log")) {
    iso::VmSpec spec;
    spec.image = disk;
    spec.work_dir = dir / name;
    spec.serial_log = log_;
    auto argv = iso::qemu_command(spec);
    if (!argv) {
      ADD_FAILURE() << argv.error().message();
      return;
    }
    // Reboots stay inside the run: the scenario reboots the guest itself.
    std::erase(*argv, std::string("-no-reboot"));
    argv->insert(argv->end(),
                 {"-drive", "if=virtio,format=raw,readonly=on,file=" + bundles.string(), "-fw_cfg",
                  "name=opt/eftest/mode,string=" + mode});
    std::vector<char*> cargv;
    for (auto& a : *argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    if (posix_spawnp(&pid_, cargv[0], nullptr, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    EXPECT_GT(pid_, 0) << "cannot start qemu";
  }
  ~Vm() { kill(); }

  std::string log() const {
    auto t = read_file(log_);
    return t ? *t : "";
  }
  /// Waits for `marker` in the console log; false when the VM stopped, the
  /// probe reported that it has no bundles, or `seconds` passed first.
  bool wait_for(const std::string& marker, int seconds, size_t from = 0) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < deadline) {
      std::string l = log();
      if (l.find(marker, from) != std::string::npos) return true;
      // A guest that cannot reach its bundles will not get anywhere.
      if (l.find("EFTEST no bundle drive", from) != std::string::npos) return false;
      if (!running()) return log().find(marker, from) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  /// Waits for the guest to power off.
  bool wait_exit(int seconds) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < deadline) {
      if (!running()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
  /// The power cut.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  fs::path log_;
  pid_t pid_ = -1;
};

// The EFTEST lines of a console log with `prefix`, in order.
std::vector<std::string> lines(const std::string& log, const std::string& prefix) {
  std::vector<std::string> out;
  std::string key = "EFTEST " + prefix;
  for (size_t pos = log.find(key); pos != std::string::npos; pos = log.find(key, pos + 1)) {
    size_t end = log.find('\n', pos);
    std::string line = log.substr(pos + 7, end == std::string::npos ? end : end - pos - 7);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    out.push_back(line);
  }
  return out;
}

// The JSON of a "status ..." line; an empty object when it does not parse,
// so a garbled console line fails the checks instead of throwing.
nlohmann::json status_json(const std::string& line) {
  auto j = nlohmann::json::parse(line.substr(std::string("status ").size()), nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

// Whether the slot the device booted is one GRUB counts as good.
bool booted_good(const nlohmann::json& st) {
  if (!st.contains("booted") || !st["booted"].is_string()) return false;
  const std::string slot = st["booted"].get<std::string>();
  return st.contains("slots") && st["slots"].contains(slot) &&
         st["slots"][slot].value("grubOk", false);
}

class AgentE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ok_ = prepare();
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override { ASSERT_TRUE(ok_) << "preparing the agent e2e images failed"; }

  static fs::path dir() { return dir_->path(); }

  static bool run(const std::string& cmd) {
    auto r = run_command(cmd + " >&2");
    EXPECT_EQ(r.status, 0) << cmd;
    return r.status == 0;
  }

  static std::string profile(const std::string& version, const std::string& extra) {
    std::string src = EF_SOURCE_DIR;
    return "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: agent-e2e\n"
           "  version: " +
           version + "\nspec:\n  extends: [" + src +
           "/examples/quickstart/profile.yaml]\n"
           "  bundle: {compatible: agent-e2e-vm}\n"
           "  agent:\n    tries: 2\n    keyring: [" +
           (dir() / "retired/signing.pub").string() + "]\n    revoked: [" + retired_id_ +
           "]\n    health:\n      timeoutSeconds: 60\n      commands:\n"
           "        - {run: \"test -x /usr/bin/edgeforge-agent\", timeoutSeconds: 10}\n" +
           extra + "  layers:\n    - directory: {path: " + src +
           "/tests/agent/e2e/guest}\n"
           "  output:\n    level: 3\n    disk: {espSize: 128, slotSize: 512, persistentSize: "
           "256}\n";
  }

  static bool build(const std::string& version, const std::string& extra,
                    const std::string& formats) {
    fs::path p = dir() / ("profile-" + version + ".yaml");
    if (!write_file_atomic(p, profile(version, extra))) return false;
    return run(edgeforge() + " build -q --cache-dir " + cache_dir() + " --profile " + p.string() +
               " --output " + (dir() / "out").string() + " --sign-key " +
               (dir() / "device/signing.key").string() + " --format " + formats);
  }

  static bool bundle(const std::string& name, const std::string& image, const std::string& args) {
    return run(edgeforge() + " bundle --image " + (dir() / "out" / image).string() + " -o " +
               (dir() / "bundles" / (name + ".efb")).string() + " " + args);
  }

  static bool prepare() {
    for (const char* k : {"device", "retired", "stranger"}) {
      if (!run(edgeforge() + " keygen --out " + (dir() / k).string())) return false;
    }
    auto id = run_command("openssl pkey -pubin -in " + (dir() / "retired/signing.pub").string() +
                          " -outform DER | sha256sum | cut -c1-64");
    retired_id_ = id.out.substr(0, 64);
    fs::create_directories(dir() / "bundles");
    if (!build("1.0.0", "", "squashfs,raw")) return false;
    if (!build("2.0.0", "", "squashfs")) return false;
    if (!build("3.0.0",
               "        - {run: \"echo simulated: k3s is not ready >&2; exit 1\", "
               "timeoutSeconds: 10}\n",
               "squashfs"))
      return false;
    // v4: /usr/sbin/init replaced by a script that exits at once: a real
    // kernel panic ("Attempted to kill init").
    fs::path v4 = dir() / "profile-4.0.0.yaml";
    std::string text = profile("4.0.0", "");
    text.replace(text.find("  output:"), 0,
                 "    - files:\n        - {path: /usr/sbin/init, mode: \"0755\", content: "
                 "\"#!/bin/sh\\necho 'EFTEST v4 init exits: kernel panic'\\nexit 1\\n\"}\n");
    if (!write_file_atomic(v4, text)) return false;
    if (!run(edgeforge() + " build -q --cache-dir " + cache_dir() + " --profile " + v4.string() +
             " --output " + (dir() / "out").string() + " --sign-key " +
             (dir() / "device/signing.key").string() + " --format squashfs"))
      return false;
    const std::string dev = " -k " + (dir() / "device/signing.key").string();
    const std::string v1 = "agent-e2e-1.0.0.squashfs", v2 = "agent-e2e-2.0.0.squashfs";
    if (!bundle("v2", v2, dev) || !bundle("v3", "agent-e2e-3.0.0.squashfs", dev) ||
        !bundle("v4", "agent-e2e-4.0.0.squashfs", dev) ||
        !bundle("v5", v2, dev + " --version 5.0.0") ||
        !bundle("wrongkey", v2, "-k " + (dir() / "stranger/signing.key").string()) ||
        !bundle("revoked", v2, "-k " + (dir() / "retired/signing.key").string()) ||
        !bundle("compat", v2, dev + " --compatible another-board") ||
        !bundle("downgrade", v1, dev + " --version 0.9.0"))
      return false;
    // Tampered: one byte of the signed manifest changed.
    if (!run("cp " + (dir() / "bundles/v2.efb").string() + " " +
             (dir() / "bundles/tampered.efb").string() + " && printf 'X' | dd of=" +
             (dir() / "bundles/tampered.efb").string() + " bs=1 seek=80 conv=notrunc status=none"))
      return false;
    // The bundles travel on a second disk: an ext4 image made without
    // mounting (mke2fs -d), which every image's kernel reads.
    uint64_t bytes = 0;
    for (const auto& e : fs::directory_iterator(dir() / "bundles")) bytes += e.file_size();
    return run("mke2fs -q -F -t ext4 -L EFBUNDLES -d " + (dir() / "bundles").string() + " " +
               bundles().string() + " " + std::to_string(bytes / (1 << 20) * 11 / 10 + 128) + "M");
  }

  static fs::path disk() { return dir() / "out/agent-e2e-1.0.0.raw"; }
  static fs::path bundles() { return dir() / "bundles.img"; }

  static TempDir* dir_;
  static bool ok_;
  static std::string retired_id_;
};

TempDir* AgentE2E::dir_ = nullptr;
bool AgentE2E::ok_ = false;
std::string AgentE2E::retired_id_;

// Acceptance 2, 3, 4, 5 and 7 in one run of the device (it reboots itself).
TEST_F(AgentE2E, UpgradesRefusesAndComesBackFromFailedHealthAndKernelPanic) {
  Vm vm(disk(), bundles(), dir(), "sequence", "sequence");
  // v1 boot + 5 refusals + v2 + v3 (+ its rollback) + v4 (2 panics) + v2.
  ASSERT_TRUE(vm.wait_for("EFTEST sequence done", 2400)) << vm.log();
  ASSERT_TRUE(vm.wait_exit(120));
  std::string log = vm.log();

  auto boots = lines(log, "boot ");
  auto statuses = lines(log, "status ");
  // v1, v2, (v3 until its agent reboots it, when the probe gets to run), v2, v2.
  ASSERT_GE(boots.size(), 4u) << log;
  ASSERT_EQ(statuses.size(), boots.size()) << log;
  // Boot 1: v1 from slot A, already good (the disk image's slot A).
  EXPECT_EQ(boots[0], "boot slot=A version=1.0.0 mode=sequence");
  auto s = status_json(statuses[0]);
  EXPECT_EQ(s["booted"], "A");
  EXPECT_EQ(s["slots"]["A"]["state"], "good");
  EXPECT_EQ(s["slots"]["A"]["version"], "1.0.0");

  // Acceptance 5: each refused, grubenv and journal unchanged.
  auto refused = lines(log, "refused ");
  ASSERT_EQ(refused.size(), 5u) << log;
  for (const auto& r : refused) {
    EXPECT_NE(r.find("rc=1 unchanged=yes"), std::string::npos) << r;
  }
  for (const char* why :
       {"tampered.efb: no valid signature by a trusted key",
        "signature does not match the manifest",
        "wrongkey.efb: no valid signature by a trusted key", "key not in the keyring",
        "revoked.efb: no valid signature by a trusted key", "key revoked by",
        "compat.efb: bundle is for \"another-board\"",
        "downgrade.efb: version 0.9.0 is older than the installed 1.0.0"}) {
    EXPECT_NE(log.find(why), std::string::npos) << why;
  }

  // Acceptance 2: v2 from slot B, marked good; A=v1 good, B=v2 good.
  EXPECT_EQ(boots[1], "boot slot=B version=2.0.0 mode=sequence");
  s = status_json(statuses[1]);
  EXPECT_EQ(s["booted"], "B");
  EXPECT_EQ(s["slots"]["A"]["state"], "good");
  EXPECT_EQ(s["slots"]["A"]["version"], "1.0.0");
  EXPECT_EQ(s["slots"]["B"]["state"], "good");
  EXPECT_EQ(s["slots"]["B"]["version"], "2.0.0");
  EXPECT_NE(log.find("slot B (2.0.0) marked good"), std::string::npos);

  // Acceptance 3: v3 on slot A fails its health check, the agent marks it
  // bad and reboots; the device is back on v2.
  EXPECT_NE(log.find("simulated: k3s is not ready"), std::string::npos) << log;
  EXPECT_NE(log.find("slot A marked bad; rebooting into slot B"), std::string::npos) << log;
  size_t i = 2;
  while (i < boots.size() && boots[i].find("version=3.0.0") != std::string::npos) ++i;
  ASSERT_LT(i, boots.size()) << log;
  EXPECT_EQ(boots[i], "boot slot=B version=2.0.0 mode=sequence");
  s = status_json(statuses[i]);
  EXPECT_EQ(s["slots"]["A"]["state"], "bad");
  EXPECT_EQ(s["slots"]["A"]["version"], "3.0.0");
  EXPECT_EQ(s["slots"]["B"]["state"], "good");

  // Acceptance 4: v4 panics twice (tries: 2), GRUB falls back to v2.
  ASSERT_LT(i + 1, boots.size()) << log;
  EXPECT_EQ(boots[i + 1], "boot slot=B version=2.0.0 mode=sequence");
  size_t panics = 0;
  for (size_t p = log.find("EFTEST v4 init exits"); p != std::string::npos;
       p = log.find("EFTEST v4 init exits", p + 1))
    ++panics;
  EXPECT_EQ(panics, 2u) << "tries: 2";
  EXPECT_NE(log.find("Kernel panic - not syncing: Attempted to kill init"), std::string::npos);
  s = status_json(statuses[i + 1]);
  EXPECT_EQ(s["booted"], "B");
  EXPECT_EQ(s["slots"]["A"]["state"], "bad");
  EXPECT_EQ(s["slots"]["A"]["version"], "4.0.0");
  EXPECT_EQ(s["slots"]["B"]["state"], "good");

  // Acceptance 7: what v1 wrote to /var and /etc is there on every later boot.
  auto persisted = lines(log, "persist ");
  ASSERT_EQ(persisted.size(), boots.size());
  for (size_t b = 1; b < persisted.size(); ++b) {
    EXPECT_EQ(persisted[b], "persist var=written-on-v1 etc=changed-on-v1") << b;
  }
}

// Acceptance 6: power cuts at 20 points of an upgrade, each followed by a
// boot that must come up on a good slot; then the upgrade completes.
TEST_F(AgentE2E, SurvivesPowerCutsAnywhereInAnUpgrade) {
  struct Cut {
    std::string marker;
    int delay_ms;
  };
  std::vector<Cut> cuts = {{"writing agent-e2e 5.0.0", 0}};
  for (int pct = 5; pct <= 95; pct += 10)
    cuts.push_back({"written " + std::to_string(pct) + "%", -1});
  for (int d : {0, 400, 1500}) cuts.push_back({"phase verifying", d});
  for (int d : {0, 100, 300}) cuts.push_back({"phase boot-files", d});
  for (int d : {0, 30, 120}) cuts.push_back({"phase switching", d});
  ASSERT_GE(cuts.size(), 20u);
  std::mt19937 rng(6);
  int runs = 0, survived = 0, hits = 0;
  std::string report;
  for (size_t c = 0; c < cuts.size(); ++c) {
    Vm vm(disk(), bundles(), dir(), "cut" + std::to_string(c), "powercut");
    // "persist" follows "status": the status line is complete by then.
    ASSERT_TRUE(vm.wait_for("EFTEST persist ", 600)) << vm.log();
    std::string log = vm.log();
    auto st = status_json(lines(log, "status ").back());
    std::string booted =
        st.contains("booted") && st["booted"].is_string() ? st["booted"].get<std::string>() : "?";
    bool good = booted_good(st);
    ++runs;
    if (good) ++survived;
    EXPECT_TRUE(good) << "cut " << c << ": " << lines(log, "status ").back();
    size_t from = log.size();
    int delay =
        cuts[c].delay_ms >= 0 ? cuts[c].delay_ms : std::uniform_int_distribution<int>(0, 400)(rng);
    bool hit = vm.wait_for(cuts[c].marker, 600, from);
    if (hit) ++hits;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    vm.kill();
    report += "cut " + std::to_string(c) + " at '" + cuts[c].marker + "' +" +
              std::to_string(delay) + " ms" + (hit ? "" : " (marker not seen)") + "; booted " +
              booted + "\n";
  }
  // After the last cut: a boot on a good slot, the upgrade run to the end.
  {
    Vm vm(disk(), bundles(), dir(), "complete", "powercut");
    ASSERT_TRUE(vm.wait_for("EFTEST upgrade complete", 900)) << vm.log();
    ASSERT_TRUE(vm.wait_exit(120));
    if (booted_good(status_json(lines(vm.log(), "status ").back()))) ++survived;
    ++runs;
  }
  Vm vm(disk(), bundles(), dir(), "final", "check");
  ASSERT_TRUE(vm.wait_for("EFTEST check done", 600)) << vm.log();
  auto st = status_json(lines(vm.log(), "status ").back());
  ASSERT_TRUE(booted_good(st)) << vm.log();
  std::string booted = st["booted"].get<std::string>();
  EXPECT_EQ(st["slots"][booted]["version"], "5.0.0") << vm.log();
  EXPECT_EQ(st["slots"][booted]["state"], "good") << vm.log();
  std::cerr << report << "power cuts: " << hits << " of " << cuts.size() << " aimed; runs " << runs
            << ", booted a good slot " << survived << "\n";
  EXPECT_EQ(survived, runs);
  // Every cut must land where it was aimed: an unseen marker means the
  // upgrade ran past that point uncut, and the point went untested.
  EXPECT_EQ(hits, static_cast<int>(cuts.size())) << report;
}

}  // namespace
}  // namespace ef::test
