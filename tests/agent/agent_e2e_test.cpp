// Issue 6's acceptance in QEMU (UEFI, OVMF, TCG): a device made from the
// builder's raw disk image with the agent in it upgrades v1 -> v2, refuses
// tampered, foreign, revoked, wrong-board and downgrade bundles without
// touching grubenv or its journal, comes back by itself from a v3 whose
// health check fails and from a v4 whose kernel panics, keeps /var and /etc
// through all of it, and survives power cuts (the VM killed) at 20 points of
// an upgrade: payload write, read-back, kernel install and boot switch.
// Delta updates: a v1 device upgrades to v2 from a chunk store served over
// HTTP, loses power in the middle of the chunk download, and on the retry
// fetches only the chunks it had not got.
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
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "agent/fleet_client.hpp"
#include "iso/vm.hpp"
#include "tests/fleet/fleet_program.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

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
// cut the power (SIGKILL) at a chosen moment. `nic` replaces "-nic none".
class Vm {
 public:
  Vm(const fs::path& disk, const fs::path& bundles, const fs::path& dir, const std::string& name,
     const std::string& mode, const std::string& nic = "",
     const std::vector<std::string>& extra = {})
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
    if (!nic.empty()) {
      auto it = std::find(argv->begin(), argv->end(), "-nic");
      if (it == argv->end() || it + 1 == argv->end()) {
        ADD_FAILURE() << "qemu_command has no -nic to replace";
        return;
      }
      *(it + 1) = nic;
    }
    argv->insert(argv->end(),
                 {"-drive", "if=virtio,format=raw,readonly=on,file=" + bundles.string(), "-fw_cfg",
                  "name=opt/eftest/mode,string=" + mode});
    argv->insert(argv->end(), extra.begin(), extra.end());
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
    return wait_until([&] { return log().find(marker, from) != std::string::npos; }, seconds, from);
  }
  /// Waits for `done()`, with wait_for's ways of giving up.
  bool wait_until(const std::function<bool()>& done, int seconds, size_t from = 0) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < deadline) {
      if (done()) return true;
      // A guest that cannot reach its bundles will not get anywhere.
      if (log().find("EFTEST no bundle drive", from) != std::string::npos) return false;
      if (!running()) return done();
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

// What tests/agent/e2e/chunk_server.py logged: one line per response.
struct ServerLog {
  std::vector<std::string> chunks;  // chunk paths answered 200, in order
  std::set<std::string> held;       // chunk paths held (never answered)
  uint64_t chunk_bytes = 0;         // bytes of those chunk answers
  uint64_t bytes = 0;               // bytes of every answer (bundle heads too)
  std::vector<std::string> failed;  // answers other than 200 and 206
  std::vector<std::string> paths;   // every path answered, in order
};

// The chunk store of the delta test: tests/agent/e2e/chunk_server.py on
// 127.0.0.1 (a free port). The guest reaches it at 10.0.2.100:8080 through
// QEMU's user network with restrict=on: no other address, no way out.
class ChunkServer {
 public:
  /// Serves `store`, logging to `log`; with `hold`, answers only the first
  /// `hold` chunk requests and holds the rest.
  ChunkServer(const fs::path& store, const fs::path& log, std::optional<size_t> hold)
      : log_(log), port_file_(log.string() + ".port") {
    std::vector<std::string> args = {"python3",      script(),     "serve",
                                     store.string(), log.string(), port_file_.string()};
    if (hold) args.push_back(std::to_string(*hold));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    for (int i = 0; pid_ > 0 && i < 300 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (auto t = read_file(port_file_)) port_ = std::atoi(t->c_str());
    }
    EXPECT_GT(port_, 0) << "the chunk server did not start";
  }
  ~ChunkServer() { stop(); }

  /// The QEMU -nic: guestfwd starts one relay per guest connection (the
  /// chardev form would share one host connection between all of them).
  /// With `fleet_port`, 10.0.2.101:8080 reaches that port of 127.0.0.1 too.
  std::string nic(const std::string& fleet_port = "") const {
    std::string nic =
        "user,model=virtio-net-pci,restrict=on,guestfwd=tcp:10.0.2.100:8080-cmd:python3 " +
        script() + " relay " + std::to_string(port_);
    if (!fleet_port.empty())
      nic += ",guestfwd=tcp:10.0.2.101:8080-cmd:python3 " + script() + " relay " + fleet_port;
    return nic;
  }

  ServerLog read() const {
    ServerLog out;
    auto text = read_file(log_);
    std::string whole = text ? *text : "";
    whole.erase(whole.find_last_of('\n') + 1);  // a line still being written waits
    std::istringstream in(whole);
    std::string kind, path;
    while (in >> kind >> path) {
      if (kind == "held") {
        out.held.insert(path);
        continue;
      }
      int status = 0;
      uint64_t bytes = 0;
      in >> status >> bytes;
      out.paths.push_back(path);
      out.bytes += bytes;
      if (status != 200 && status != 206) out.failed.push_back(path + " " + std::to_string(status));
      if (status == 200 && path.starts_with("/chunks/")) {
        out.chunks.push_back(path);
        out.chunk_bytes += bytes;
      }
    }
    return out;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static std::string script() { return EF_SOURCE_DIR "/tests/agent/e2e/chunk_server.py"; }
  fs::path log_, port_file_;
  int port_ = 0;
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

// A public key's ID as edgeforge names keys (sha256 of its DER form),
// computed by openssl, not by us.
std::string key_id(const fs::path& pub) {
  return run_command("openssl pkey -pubin -in " + pub.string() +
                     " -outform DER | sha256sum | cut -c1-64")
      .out.substr(0, 64);
}

// A string member of `j`, "" when it is missing, null or not a string.
std::string text(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_string()) return "";
  return j.at(key).get<std::string>();
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

  static std::string profile(const std::string& version, const std::string& extra,
                             const std::string& layers = "") {
    std::string src = EF_SOURCE_DIR;
    return "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: agent-e2e\n"
           "  version: " +
           version + "\nspec:\n  extends: [" + src +
           "/examples/quickstart/profile.yaml]\n"
           "  bundle: {compatible: agent-e2e-vm}\n"
           "  agent:\n    tries: 2\n    keyring: [" +
           (dir() / "retired/signing.pub").string() + "]\n    revoked: [" + retired_id_ +
           "]\n    updates:\n      keyring: [" + (dir() / "device/signing.pub").string() +
           "]\n      rolloutKeyring: [" + (dir() / "fleet/signing.pub").string() +
           "]\n    health:\n      timeoutSeconds: 60\n      commands:\n"
           "        - {run: \"test -x /usr/bin/edgeforge-agent\", timeoutSeconds: 10}\n" +
           extra + "  layers:\n    - directory: {path: " + src + "/tests/agent/e2e/guest}\n" +
           layers +
           "  output:\n    level: 3\n    disk: {espSize: 128, slotSize: 512, persistentSize: "
           "256}\n";
  }

  static bool build(const std::string& version, const std::string& extra,
                    const std::string& formats, const std::string& layers = "") {
    fs::path p = dir() / ("profile-" + version + ".yaml");
    if (!write_file_atomic(p, profile(version, extra, layers))) return false;
    return run(edgeforge() + " build -q --cache-dir " + cache_dir() + " --profile " + p.string() +
               " --output " + (dir() / "out").string() + " --sign-key " +
               (dir() / "device/signing.key").string() + " --format " + formats);
  }

  static bool bundle(const std::string& name, const std::string& image, const std::string& args) {
    return run(edgeforge() + " bundle --image " + (dir() / "out" / image).string() + " -o " +
               (dir() / "bundles" / (name + ".efb")).string() + " " + args);
  }

  static bool prepare() {
    for (const char* k : {"device", "retired", "stranger", "fleet"}) {
      if (!run(edgeforge() + " keygen --out " + (dir() / k).string())) return false;
    }
    retired_id_ = key_id(dir() / "retired/signing.pub");
    fs::create_directories(dir() / "bundles");
    if (!build("1.0.0", "", "squashfs,raw")) return false;
    // The delta test's device gets the pristine v1 disk, whatever the other
    // tests do to theirs.
    if (!run("cp --sparse=always " + disk().string() + " " + delta_disk().string())) return false;
    // v2 carries 6 MiB that v1 has not (incompressible, so about 100 chunks
    // of 64 KiB): enough chunks to download for a power cut in the middle.
    std::string noise(6 << 20, '\0');
    std::mt19937_64 gen(13);
    for (size_t i = 0; i + 8 <= noise.size(); i += 8) {
      uint64_t v = gen();
      std::memcpy(noise.data() + i, &v, 8);
    }
    fs::create_directories(dir() / "noise/usr/share/eftest");
    if (!write_file_atomic(dir() / "noise/usr/share/eftest/noise", noise)) return false;
    if (!build("2.0.0", "", "squashfs",
               "    - directory: {path: " + (dir() / "noise").string() + "}\n"))
      return false;
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
    // The chunk store the delta test serves: v2 published.
    if (!run(edgeforge() + " publish " + (dir() / "bundles/v2.efb").string() + " --to " +
             store().string()))
      return false;
    // The channel test's releases, published into the same store: v5 (v2's
    // image), v6 (v3's: fails its health check), v7 (v2's again). They stay
    // off the bundles disk.
    fs::create_directories(dir() / "channel");
    auto channel_bundle = [&](const std::string& name, const std::string& image,
                              const std::string& version) {
      return run(edgeforge() + " bundle --image " + (dir() / "out" / image).string() + " -o " +
                 (dir() / "channel" / (name + ".efb")).string() + dev + " --version " + version) &&
             run(edgeforge() + " publish -q " + (dir() / "channel" / (name + ".efb")).string() +
                 " --to " + store().string());
    };
    if (!channel_bundle("v5", v2, "5.0.0") ||
        !channel_bundle("v6", "agent-e2e-3.0.0.squashfs", "6.0.0") ||
        !channel_bundle("v7", v2, "7.0.0"))
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
  static fs::path delta_disk() { return dir() / "delta-1.0.0.raw"; }
  static fs::path store() { return dir() / "store"; }

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

// Whether to run the exhaustive sweeps (scripts/e2e-full.sh) instead of
// CI's representative subset.
bool full_sweep() {
  const char* v = std::getenv("EDGEFORGE_E2E_FULL");
  return v != nullptr && std::string(v) == "1";
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
  // CI runs one cut in each phase (and two in the write); the whole sweep of
  // 22 boots runs with EDGEFORGE_E2E_FULL=1 (scripts/e2e-full.sh).
  if (!full_sweep()) {
    cuts = {cuts[0], cuts[3], cuts[8], cuts[12], cuts[14], cuts[17]};
  }
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

// Delta updates in QEMU: the device on v1 upgrades to v2 from a chunk store
// over HTTP. The first try loses power in the middle of the chunk download;
// the device comes back on v1, and the retry fetches only what it had not
// got, boots v2 and marks it good. What the device downloaded is taken from
// the server's log. Its own disk (pristine v1), whatever the tests above did.
TEST_F(AgentE2E, DeltaUpgradeFromAChunkStoreSurvivesAPowerCutMidDownload) {
  auto started = Clock::now();
  // The planner's count of the distinct chunks v2 needs beyond v1's slot.
  auto stats =
      run_command(edgeforge() + " delta-stats " + (dir() / "bundles/downgrade.efb").string() + " " +
                  (dir() / "bundles/v2.efb").string() + " --json");
  ASSERT_EQ(stats.status, 0);
  auto plan = nlohmann::json::parse(stats.out, nullptr, false);
  ASSERT_TRUE(plan.is_object() && !plan.value("full", true)) << stats.out;
  const size_t needed = plan.value("downloadChunks", size_t{0});
  // The agent downloads four chunks at a time (SlotInstallOptions::parallel_fetches).
  const size_t workers = 4, hold = needed / 2;
  ASSERT_GE(needed - hold, workers) << stats.out;
  const uint64_t full_bundle = fs::file_size(dir() / "bundles/v2.efb");

  // The cut: once `hold` chunks are answered and every download worker
  // waits on a held request, each worker has written the chunks it got
  // (it asks for the next one only then); two of the probe's syncs later
  // they are on the disk, and the power goes.
  ServerLog first;
  {
    ChunkServer server(store(), dir() / "server-cut.log", hold);
    Vm vm(delta_disk(), bundles(), dir(), "delta-cut", "delta", server.nic());
    ASSERT_TRUE(vm.wait_until([&] { return server.read().held.size() >= workers; }, 1200))
        << "fewer than " << workers << " chunk requests held\n"
        << vm.log();
    size_t from = vm.log().size();
    ASSERT_TRUE(vm.wait_for("EFTEST synced", 120, from)) << vm.log();
    ASSERT_TRUE(vm.wait_for("EFTEST synced", 120, vm.log().find("EFTEST synced", from) + 1))
        << vm.log();
    vm.kill();
    std::string log = vm.log();
    auto boots = lines(log, "boot ");
    ASSERT_FALSE(boots.empty()) << log;
    EXPECT_EQ(boots[0], "boot slot=A version=1.0.0 mode=delta");
    EXPECT_EQ(log.find("EFTEST upgraded"), std::string::npos) << log;
    first = server.read();
  }

  // The retry, on the same disk, from a server that answers everything.
  ChunkServer server(store(), dir() / "server-retry.log", std::nullopt);
  Vm vm(delta_disk(), bundles(), dir(), "delta-retry", "delta", server.nic());
  ASSERT_TRUE(vm.wait_for("EFTEST delta done", 1500)) << vm.log();
  ASSERT_TRUE(vm.wait_exit(120)) << vm.log();
  std::string log = vm.log();
  ServerLog retry = server.read();
  server.stop();

  // The power cut was survived: the device came back on its good v1, then
  // booted v2 from slot B and marked it good.
  auto boots = lines(log, "boot ");
  auto statuses = lines(log, "status ");
  ASSERT_EQ(boots.size(), 2u) << log;
  ASSERT_EQ(statuses.size(), 2u) << log;
  EXPECT_EQ(boots[0], "boot slot=A version=1.0.0 mode=delta");
  auto st = status_json(statuses[0]);
  EXPECT_EQ(st["booted"], "A") << statuses[0];
  EXPECT_EQ(st["slots"]["A"]["state"], "good") << statuses[0];
  EXPECT_EQ(boots[1], "boot slot=B version=2.0.0 mode=delta");
  st = status_json(statuses[1]);
  EXPECT_EQ(st["booted"], "B") << statuses[1];
  EXPECT_EQ(st["slots"]["B"]["state"], "good") << statuses[1];
  EXPECT_EQ(st["slots"]["B"]["version"], "2.0.0") << statuses[1];
  EXPECT_EQ(st["slots"]["A"]["state"], "good") << statuses[1];
  EXPECT_EQ(st["slots"]["A"]["version"], "1.0.0") << statuses[1];
  EXPECT_NE(log.find("slot B (2.0.0) marked good"), std::string::npos) << log;

  // What was downloaded, from the server's side.
  std::set<std::string> got(first.chunks.begin(), first.chunks.end());
  std::set<std::string> refetched(retry.chunks.begin(), retry.chunks.end());
  for (const auto& f : first.failed) ADD_FAILURE() << "first try: " << f;
  for (const auto& f : retry.failed) ADD_FAILURE() << "retry: " << f;
  EXPECT_EQ(first.chunks.size(), hold);
  EXPECT_EQ(got.size(), first.chunks.size()) << "a chunk fetched twice";
  EXPECT_EQ(refetched.size(), retry.chunks.size()) << "a chunk fetched twice";
  // The retry fetched nothing the first try had got, everything it had not
  // (the held chunks too), and together they are what the planner said.
  for (const auto& c : retry.chunks) EXPECT_EQ(got.count(c), 0u) << c << " fetched again";
  for (const auto& c : first.held) EXPECT_EQ(refetched.count(c), 1u) << c << " never fetched";
  EXPECT_EQ(got.size() + refetched.size(), needed) << stats.out;
  // The agent's own account of the retry agrees.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m,
                                std::regex("(\\d+) chunks already in the slot, (\\d+) copied from "
                                           "the booted slot( \\(known from its kept chunk "
                                           "index\\))?, (\\d+) fetched")))
      << log;
  EXPECT_GE(std::stoul(m[1]), hold);
  // The first try had copied what the booted slot has before it fetched.
  EXPECT_EQ(m[2].str(), "0") << "the first try's copies from the booted slot were lost";
  // ... and kept the booted slot's chunk index, so the retry did not read
  // and hash the booted slot again (agent/slot_chunks.hpp).
  EXPECT_TRUE(m[3].matched) << "the retry cut the booted slot again";
  EXPECT_EQ(std::stoul(m[4]), retry.chunks.size());
  // Fewer bytes than the full bundle, the bundle heads counted whole.
  EXPECT_LT(first.bytes + retry.bytes, full_bundle);

  std::cerr << "delta: " << needed << " chunks to fetch ("
            << plan.value("downloadBytes", uint64_t{0}) << " bytes); first try "
            << first.chunks.size() << " chunks, " << first.chunk_bytes << " bytes (" << first.bytes
            << " with heads), " << first.held.size() << " held at the cut; retry "
            << retry.chunks.size() << " chunks, " << retry.chunk_bytes << " bytes (" << retry.bytes
            << " with heads); full bundle " << full_bundle << " bytes; "
            << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()
            << " s\n";
}

// Issues 14 and 15 in QEMU, on the delta test's device (v2 on slot B): it
// follows a channel served on the host (its updates section written by the
// probe, with a maintenance window around now) and reports to the fleet
// service (edgeforge-fleet serve on 127.0.0.1, SQLite), which watches the
// channel and signs its rollout state with a rollout key the image trusts.
// The device registers on site with its DMI serial number and waits,
// unpaired, until the operator approves it; then the service shows it on
// v2. v5 goes to a canary wave of ten simulated devices (the agent's own
// fleet client, each with its key) with the device's wave gated: the
// canary reports success, the service opens the next wave by itself, the
// device upgrades to v5, reboots, is healthy and shows as updated. v6
// fails its health check on the device: it falls back to v5, never tries
// v6 again, and shows as rolled back. v7 fails on two of the ten canaries:
// the service pauses the channel by itself and the device, whose wave
// never opened, never fetches v7. Then, with no network, a USB stick
// carrying `edgeforge channel export` of v7 (resumed by the operator
// through the service) is applied by the media rule by itself.
TEST_F(AgentE2E, FollowsAChannelWaveByWaveReportsToTheFleetAndAppliesMediaWithoutNetwork) {
  auto started = Clock::now();
  const std::string key = " -k " + (dir() / "device/signing.key").string();
  auto channel = [&](const std::string& args) {
    return run(edgeforge() + " channel " + args + " -q --to " + store().string() + key);
  };
  auto head = [&](const std::string& version) {
    return " --head " + (store() / ("agent-e2e-" + version + ".efbh")).string();
  };
  // The window: from an hour ago to three hours ahead, UTC.
  auto hour = std::chrono::duration_cast<std::chrono::hours>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count() %
              24;
  char window[16];
  std::snprintf(window, sizeof window, "%02d:00 %02d:00", static_cast<int>((hour + 23) % 24),
                static_cast<int>((hour + 3) % 24));
  // Ten canaries, listed by ID; every other device is in "all", which the
  // service opens once eight canaries run the release, and which pauses
  // the channel once more than 10 % of ten finished canaries failed.
  std::vector<std::string> canaries;
  std::string canary = " --wave canary=device:";
  for (int i = 1; i <= 10; ++i) {
    canaries.push_back("sim-" + std::to_string(100 + i).substr(1));
    canary += (i > 1 ? "+" : "") + canaries.back();
  }
  const std::string gated = canary + " --wave all=100%" +
                            " --gate min-succeeded=8,max-failed=10%,min-finished=10,deadline=1h";
  ASSERT_TRUE(channel("init"));
  ASSERT_TRUE(channel("release" + head("5.0.0") + gated));

  // The fleet service, and the operator's `edgeforge fleet`.
  const fs::path fleet_dir = dir() / "fleet-service", ring = dir() / "channel-keyring";
  fs::create_directories(fleet_dir);
  fs::create_directories(ring / "rollout");  // as the image has it
  fs::copy_file(dir() / "device/signing.pub", ring / "device.pub");
  fs::copy_file(dir() / "fleet/signing.pub", ring / "rollout/fleet.pub");
  ASSERT_TRUE(write_file_atomic(fleet_dir / "operator-token", "op-secret\n"));
  ASSERT_TRUE(write_file_atomic(
      fleet_dir / "fleet.yaml",
      "operators:\n  - {name: ops, tokenSha256: " + sha256_hex("op-secret") +
          "}\nchannels:\n  - location: " + (store() / "stable.json").string() + "\n    keyring: " +
          ring.string() + "\n    rolloutKey: " + (dir() / "fleet/signing.key").string() +
          "\ngates: {intervalSeconds: 1}\n"));
  std::optional<FleetProgram> service(std::in_place, fleet_dir, fleet_dir / "fleet.sqlite",
                                      fleet_dir / "fleet.yaml", "watching");
  ASSERT_FALSE(service->port().empty()) << service->output();
  const std::string fleet_url = service->url();
  auto fleet = [&](const std::string& args) {
    auto r = run_command("EDGEFORGE_FLEET=" + fleet_url + " " + edgeforge() + " fleet " + args +
                         " --token-file " + (fleet_dir / "operator-token").string() + " 2>&1");
    EXPECT_EQ(r.status, 0) << args << ": " << r.out;
    return r.out;
  };
  auto token_of = [&](const std::string& args) {
    auto j = nlohmann::json::parse(fleet("token --json" + args), nullptr, false);
    return j.is_object() && j.contains("token") ? j["token"].get<std::string>() : "";
  };
  const std::string on_site = token_of(""), auto_approve = token_of(" --auto-approve");
  ASSERT_FALSE(on_site.empty());
  ASSERT_FALSE(auto_approve.empty());
  // A canary reports running `release`, or back on v5 with `release` failed.
  auto canary_reports = [&](size_t i, const std::string& release, bool fails) {
    agent::FleetOptions o;
    o.dir = dir() / "canaries" / canaries[i];
    o.registration.endpoint = fleet_url;
    o.registration.token = auto_approve;
    o.device_id = canaries[i];
    auto client = agent::FleetClient::open(o);
    ASSERT_TRUE(client) << client.error().message();
    nlohmann::json failed = nlohmann::json::array();
    if (fails) failed.push_back(release);
    nlohmann::json status = {
        {"booted", "A"},
        {"slots", {{"A", {{"version", fails ? "5.0.0" : release}, {"state", "good"}}}}},
        {"health", {{"result", "passed"}}},
        {"updates",
         {{"channel", "stable"},
          {"release", release},
          {"wave", "canary"},
          {"action", "nothing"},
          {"failedReleases", failed}}}};
    ASSERT_TRUE(client->queue(status, now_utc()));
    auto sent = client->flush(now_utc());
    ASSERT_TRUE(sent) << sent.error().message();
    EXPECT_EQ(sent->error, "") << canaries[i];
    EXPECT_EQ(sent->sent, 1u) << canaries[i];
  };
  // The device as the service shows it (GET /api/v1/devices).
  const std::string nuc = "eftest-nuc-1";
  auto shown = [&]() {
    auto all = nlohmann::json::parse(fleet("devices --json"), nullptr, false);
    if (all.is_object() && all.contains("devices"))
      for (const auto& d : all["devices"])
        if (text(d, "id") == nuc) return d;
    return nlohmann::json::object();
  };
  auto shown_as = [&](Vm& vm, const std::function<bool(const nlohmann::json&)>& want) {
    return vm.wait_until(
        [&] {
          std::this_thread::sleep_for(std::chrono::seconds(1));
          return want(shown());
        },
        900);
  };
  const std::string show = edgeforge() + " channel show " + (store() / "stable.json").string() +
                           " --keyring " + ring.string() + " --json";

  // The device reports each poll as "EFTEST watch {json}".
  auto watches = [](const std::string& log) {
    std::vector<nlohmann::json> out;
    for (const auto& l : lines(log, "watch ")) {
      auto j = nlohmann::json::parse(l.substr(6), nullptr, false);
      out.push_back(j.is_object() ? j : nlohmann::json::object());
    }
    return out;
  };
  auto a_watch = [&](Vm& vm, size_t from, const std::function<bool(const nlohmann::json&)>& want) {
    return vm.wait_until(
        [&] {
          for (const auto& w : watches(vm.log().substr(from)))
            if (want(w)) return true;
          return false;
        },
        1500, from);
  };
  auto why_has = [](const nlohmann::json& w, const std::string& part) {
    return text(w, "why").find(part) != std::string::npos;
  };
  const std::vector<std::string> serial = {"-smbios", "type=1,serial=" + nuc};
  {
    ChunkServer server(store(), dir() / "server-channel.log", std::nullopt);
    std::vector<std::string> extra = {"-fw_cfg",
                                      std::string("name=opt/eftest/window,string=") + window,
                                      "-fw_cfg", "name=opt/eftest/fleet,string=" + on_site};
    extra.insert(extra.end(), serial.begin(), serial.end());
    Vm vm(delta_disk(), bundles(), dir(), "channel", "channel", server.nic(service->port()), extra);
    // Its wave waits for the service; it registered, and waits to be approved.
    ASSERT_TRUE(a_watch(vm, 0, [&](const auto& w) {
      return text(w, "action") == "wait" && text(w, "wave") == "all" &&
             why_has(w, "opens when the fleet service sees the wave before it succeed");
    })) << vm.log();
    ASSERT_TRUE(shown_as(vm, [](const auto& d) { return text(d, "state") == "unpaired"; }))
        << vm.log();
    EXPECT_TRUE(shown().value("lastReport", nlohmann::json()).is_null()) << shown();
    fleet("approve " + nuc);
    ASSERT_TRUE(shown_as(vm, [](const auto& d) {
      return text(d, "state") == "ready" && text(d, "running") == "2.0.0" &&
             text(d, "release") == "5.0.0" && text(d, "wave") == "all" &&
             text(d, "phase") == "pending";
    })) << shown();
    // The canary succeeds: the service opens "all"; v5, a reboot, a healthy
    // v5 that is up to date, and so the service shows it.
    size_t from = vm.log().size();
    for (size_t i = 0; i < canaries.size(); ++i) canary_reports(i, "5.0.0", false);
    ASSERT_TRUE(a_watch(vm, from, [&](const auto& w) { return why_has(w, "up to date"); }))
        << vm.log().substr(from) << service->output();
    std::string log = vm.log().substr(from);
    EXPECT_NE(log.find("slot A (5.0.0) marked good"), std::string::npos) << log;
    ASSERT_TRUE(shown_as(vm, [](const auto& d) {
      return text(d, "running") == "5.0.0" && text(d, "phase") == "updated";
    })) << shown();
    auto state = nlohmann::json::parse(run_command(show).out, nullptr, false);
    EXPECT_EQ(text(state, "rolloutSignedBy"), key_id(dir() / "fleet/signing.pub")) << state;

    // v6 fails its health check: back on v5, and v6 is not tried again.
    from = vm.log().size();
    ASSERT_TRUE(channel("release" + head("6.0.0") + " --wave all=100% --gate off"));
    ASSERT_TRUE(a_watch(vm, from, [&](const auto& w) {
      return text(w, "action") == "nothing" &&
             why_has(w, "6.0.0 failed its health check on this device");
    })) << vm.log().substr(from);
    log = vm.log().substr(from);
    auto boots = lines(log, "boot ");
    ASSERT_FALSE(boots.empty()) << log;
    EXPECT_EQ(boots.back(), "boot slot=A version=2.0.0 mode=channel") << log;  // v5 is v2's image
    auto st = status_json(lines(log, "status ").back());
    EXPECT_EQ(st["slots"]["B"]["state"], "bad") << st;
    EXPECT_EQ(st["slots"]["B"]["version"], "6.0.0") << st;
    ASSERT_TRUE(shown_as(vm, [](const auto& d) {
      return text(d, "release") == "6.0.0" && text(d, "phase") == "rolled-back";
    })) << shown();

    // v7 fails on two of the ten canaries: the service pauses the channel,
    // and the device, its wave never opened, waits and never fetches v7.
    from = vm.log().size();
    ASSERT_TRUE(channel("release" + head("7.0.0") + gated));
    for (size_t i = 0; i < canaries.size(); ++i) canary_reports(i, "7.0.0", i < 2);
    ASSERT_TRUE(a_watch(
        vm, from,
        [&](const auto& w) {
          return text(w, "action") == "wait" && text(w, "release") == "7.0.0" &&
                 why_has(w,
                         "the fleet service paused the channel: wave \"canary\": 2 of 10 finished "
                         "devices failed");
        }))
        << vm.log().substr(from) << service->output();
    EXPECT_TRUE(shown_as(vm, [](const auto& d) {
      return text(d, "release") == "7.0.0" && text(d, "phase") == "pending";
    })) << shown();
    vm.kill();
    // Each watch fetched the channel; nothing but the channel, heads and
    // chunks was asked for, nothing failed, and v7's head never.
    ServerLog served = server.read();
    for (const auto& f : served.failed) ADD_FAILURE() << f;
    EXPECT_EQ(std::count(served.paths.begin(), served.paths.end(), "/agent-e2e-7.0.0.efbh"), 0);
    EXPECT_GT(std::count(served.paths.begin(), served.paths.end(), "/agent-e2e-5.0.0.efbh"), 0);
  }
  auto status = nlohmann::json::parse(fleet("status --json"), nullptr, false);
  EXPECT_TRUE(status.is_object()) << status;
  auto paused = nlohmann::json::parse(run_command(show).out, nullptr, false);
  EXPECT_NE(text(paused, "pausedBy").find("2 of 10 finished devices failed"), std::string::npos)
      << paused;

  // The operator resumes through the service, which accepts the failures
  // seen so far and opens "all" on its next pass.
  fleet("resume stable");
  bool opened = false;
  for (int i = 0; i < 120 && !opened; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto j = nlohmann::json::parse(run_command(show).out, nullptr, false);
    opened = j.is_object() && j["pausedBy"].is_null() && j["waves"].is_array() &&
             j["waves"].size() == 2 && j["waves"][1].value("open", false);
  }
  ASSERT_TRUE(opened) << run_command(show).out << service->output();
  int stopped = service->stop();
  EXPECT_TRUE(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0) << stopped;
  service.reset();

  // Air-gapped: v7, exported to a USB stick; no network at all.
  ASSERT_TRUE(run(edgeforge() + " channel export -q --from " + store().string() + " --to " +
                  (dir() / "media").string()));
  ASSERT_TRUE(run("mke2fs -q -F -t ext4 -L EFMEDIA -d " + (dir() / "media").string() + " " +
                  (dir() / "media.img").string() + " 768M"));
  std::vector<std::string> stick = {
      "-device", "qemu-xhci",
      "-drive",  "if=none,id=stick,format=raw,file=" + (dir() / "media.img").string(),
      "-device", "usb-storage,drive=stick,removable=on"};
  stick.insert(stick.end(), serial.begin(), serial.end());  // its rollout ID
  Vm vm(delta_disk(), bundles(), dir(), "media", "media", "", stick);
  ASSERT_TRUE(vm.wait_until(
      [&] {
        for (const auto& l : lines(vm.log(), "status ")) {
          auto st = status_json(l);
          if (booted_good(st) &&
              st["slots"][st["booted"].get<std::string>()].value("version", "") == "7.0.0")
            return true;
        }
        return false;
      },
      1500))
      << vm.log();
  std::string log = vm.log();
  EXPECT_NE(log.find("edgeforge-media: applying the release channel copy on /dev/sda"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("holds no edgeforge-channel marker; left alone"), std::string::npos)
      << "the bundles disk has no marker" << log;
  vm.kill();
  std::cerr << "channel: "
            << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()
            << " s\n";
}

}  // namespace
}  // namespace ef::test
