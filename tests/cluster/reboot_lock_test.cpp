// The Kubernetes layers' pre-reboot hook (layers/kubernetes/reboot-lock.sh)
// run as edgeforge-agent runs it, with the real kubectl, against
// tests/support/kube_api.py: a stand-in for the nodes, pods and Leases of a
// kube-apiserver (which is not packaged for Debian 12 and cannot be
// downloaded here), with its resourceVersion conflicts. Three nodes of one
// cluster want to reboot; one at a time gets the lease, is drained, and gives
// it back only once it is Ready again; a dead holder's lease expires.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json node(const std::string& name, bool ready = true) {
  return {
      {"metadata", {{"name", name}}},
      {"spec", json::object()},
      {"status", {{"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

json pod(const std::string& name, const std::string& on, bool stuck = false) {
  json p = {{"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"nodeName", on}, {"containers", {{{"name", "c"}, {"image", "x"}}}}}},
            {"status", {{"phase", "Running"}}}};
  if (stuck) p["metadata"]["annotations"] = {{"test/stuck", "true"}};
  return p;
}

class RebootLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run_command("command -v kubectl").status, 0)
        << "kubectl is missing: scripts/install-deps.sh installs Debian's kubernetes-client";
    start(json::array({node("node-a"), node("node-b"), node("node-c")}),
          json::array({pod("web-1", "node-a"), pod("web-2", "node-b")}));
  }
  void TearDown() override { stop(); }

  void start(const json& nodes, const json& pods, const json& leases = json::array()) {
    stop();
    ASSERT_TRUE(write_file_atomic(
        tmp / "state.json", json{{"nodes", nodes}, {"pods", pods}, {"leases", leases}}.dump()));
    fs::remove(tmp / "port");
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = (tmp / "api.log").string();
      if (freopen(log.c_str(), "a", stderr) == nullptr) _exit(126);
      execlp("python3", "python3",
             (std::string(EF_SOURCE_DIR) + "/tests/support/kube_api.py").c_str(),
             (tmp / "port").c_str(), (tmp / "state.json").c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 300 && !fs::exists(tmp / "port"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(fs::exists(tmp / "port")) << *read_file(tmp / "api.log");
    ASSERT_TRUE(write_file_atomic(
        tmp / "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: [{name: t, cluster: {server: "
        "\"http://127.0.0.1:" +
            *read_file(tmp / "port") +
            "\"}}]\nusers: [{name: t, user: {}}]\ncontexts: [{name: t, context: {cluster: t, "
            "user: t}}]\ncurrent-context: t\n"));
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  /// Runs the hook as node `name` ("" = acquire, the hook's default).
  CommandOutput lock(const std::string& name, const std::string& mode = "",
                     const std::string& env = "") {
    return run_command(
        "env HOME=" + tmp.path().string() +
        " EDGEFORGE_KUBECONFIG=" + (tmp / "kubeconfig").string() + " EDGEFORGE_NODE_NAME=" + name +
        " EDGEFORGE_READY_TIMEOUT=0 EDGEFORGE_DRAIN_TIMEOUT=2s "
        "EDGEFORGE_REBOOT_REASON='release 2.0.0 in slot B' " +
        env + " sh " + EF_SOURCE_DIR + "/layers/kubernetes/reboot-lock.sh " + mode + " 2>&1");
  }
  json state() { return json::parse(*read_file(tmp / "state.json")); }
  json lease() {
    auto s = state();
    return s["leases"].empty() ? json() : s["leases"][0];
  }
  std::string holder() {
    auto l = lease();
    return l.is_null() ? "" : l["spec"].value("holderIdentity", "");
  }
  bool cordoned(const std::string& name) {
    const json s = state();  // not state()["nodes"]: the temporary would be gone
    for (const auto& n : s["nodes"])
      if (n["metadata"]["name"] == name) return n["spec"].value("unschedulable", false);
    return false;
  }
  bool has_pod(const std::string& name) {
    const json s = state();
    for (const auto& p : s["pods"])
      if (p["metadata"]["name"] == name) return true;
    return false;
  }
  void set_ready(const std::string& name, bool ready) {
    auto s = state();
    for (auto& n : s["nodes"])
      if (n["metadata"]["name"] == name)
        n["status"]["conditions"][0]["status"] = ready ? "True" : "False";
    start(s["nodes"], s["pods"], s["leases"]);
  }

  TempDir tmp;
  pid_t pid_ = -1;
};

TEST_F(RebootLockTest, OneNodeAtATimeAndOnlyOnceTheFirstIsBackAndReady) {
  auto a = lock("node-a");
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_NE(a.out.find("took lease kube-system/edgeforge-reboot"), std::string::npos) << a.out;
  EXPECT_EQ(holder(), "node-a");
  EXPECT_EQ(lease()["spec"]["leaseDurationSeconds"], 3600);
  EXPECT_EQ(lease()["metadata"]["annotations"]["edgeforge.io/reason"], "release 2.0.0 in slot B");
  EXPECT_TRUE(cordoned("node-a"));
  EXPECT_FALSE(has_pod("web-1")) << "drained";
  EXPECT_TRUE(has_pod("web-2"));

  // node-b must wait: one line naming the holder, nothing of node-b touched.
  auto b = lock("node-b");
  EXPECT_NE(b.status, 0);
  EXPECT_NE(b.out.find("node node-a holds lease kube-system/edgeforge-reboot until"),
            std::string::npos)
      << b.out;
  EXPECT_EQ(std::count(b.out.begin(), b.out.end(), '\n'), 1) << b.out;
  EXPECT_FALSE(cordoned("node-b"));
  EXPECT_TRUE(has_pod("web-2"));

  // node-a rebooted but is not Ready yet: it keeps the lease, node-b waits.
  set_ready("node-a", false);
  auto early = lock("node-a", "release");
  EXPECT_NE(early.status, 0);
  EXPECT_NE(early.out.find("not Ready"), std::string::npos) << early.out;
  EXPECT_EQ(holder(), "node-a");
  EXPECT_NE(lock("node-b").status, 0);

  // Ready: uncordoned, the lease given back; node-b goes next.
  set_ready("node-a", true);
  auto back = lock("node-a", "release");
  ASSERT_EQ(back.status, 0) << back.out;
  EXPECT_FALSE(cordoned("node-a"));
  EXPECT_EQ(holder(), "");
  b = lock("node-b");
  ASSERT_EQ(b.status, 0) << b.out;
  EXPECT_EQ(holder(), "node-b");
  EXPECT_FALSE(has_pod("web-2"));

  // Releasing on a node that holds nothing changes nothing.
  ASSERT_EQ(lock("node-c", "release").status, 0);
  EXPECT_EQ(holder(), "node-b");
}

TEST_F(RebootLockTest, ADeadHoldersLeaseExpiresAndIsTakenOver) {
  ASSERT_EQ(lock("node-a").status, 0);
  // node-a died holding it: its last renewal is two hours old.
  auto s = state();
  s["leases"][0]["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z";
  start(s["nodes"], s["pods"], s["leases"]);
  auto c = lock("node-c");
  ASSERT_EQ(c.status, 0) << c.out;
  EXPECT_NE(c.out.find("lease kube-system/edgeforge-reboot of node node-a expired at "
                       "2020-01-01T01:00:00Z; taking it over"),
            std::string::npos)
      << c.out;
  EXPECT_EQ(holder(), "node-c");
}

TEST_F(RebootLockTest, TwoNodesRacingForTheLeaseNeverBothGetIt) {
  // Both read a free lease; the API server takes one replace and refuses
  // the other's stale resourceVersion. Run them at once, many times.
  for (int round = 0; round < 3; ++round) {
    start(json::array({node("node-a"), node("node-b")}), json::array());
    auto both = run_command(
        "(" + std::string("env HOME=") + tmp.path().string() + " EDGEFORGE_KUBECONFIG=" +
        (tmp / "kubeconfig").string() + " EDGEFORGE_NODE_NAME=node-a sh " + EF_SOURCE_DIR +
        "/layers/kubernetes/reboot-lock.sh > " + (tmp / "a.out").string() + " 2>&1; echo $? > " +
        (tmp / "a.rc").string() + ") & (env HOME=" + tmp.path().string() +
        " EDGEFORGE_KUBECONFIG=" + (tmp / "kubeconfig").string() +
        " EDGEFORGE_NODE_NAME=node-b sh " + EF_SOURCE_DIR + "/layers/kubernetes/reboot-lock.sh > " +
        (tmp / "b.out").string() + " 2>&1; echo $? > " + (tmp / "b.rc").string() + "); wait");
    int ok = (*read_file(tmp / "a.rc") == "0\n") + (*read_file(tmp / "b.rc") == "0\n");
    EXPECT_EQ(ok, 1) << *read_file(tmp / "a.out") << *read_file(tmp / "b.out");
    std::string winner = *read_file(tmp / "a.rc") == "0\n" ? "node-a" : "node-b";
    EXPECT_EQ(holder(), winner);
    EXPECT_TRUE(cordoned(winner));
    EXPECT_FALSE(cordoned(winner == "node-a" ? "node-b" : "node-a"));
  }
}

TEST_F(RebootLockTest, AFailedDrainUncordonsGivesTheLeaseBackAndPostpones) {
  start(json::array({node("node-a"), node("node-b")}),
        json::array({pod("db-0", "node-a", /*stuck=*/true)}));
  auto a = lock("node-a");
  EXPECT_NE(a.status, 0);
  EXPECT_NE(a.out.find("cannot drain node node-a"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("uncordoning it, reboot postponed"), std::string::npos) << a.out;
  EXPECT_FALSE(cordoned("node-a"));
  EXPECT_EQ(holder(), "");
  EXPECT_EQ(lock("node-b").status, 0) << "the lease is free for the next node";
}

TEST_F(RebootLockTest, ASingleNodeNeitherLocksNorDrainsAndMissingAccessPostpones) {
  start(json::array({node("solo")}), json::array({pod("web-1", "solo")}));
  auto solo = lock("solo");
  ASSERT_EQ(solo.status, 0) << solo.out;
  EXPECT_NE(solo.out.find("single-node cluster: no lease, no drain"), std::string::npos);
  EXPECT_TRUE(lease().is_null());
  EXPECT_TRUE(has_pod("web-1"));

  // A worker without a kubeconfig cannot coordinate: it says so and waits.
  auto none = run_command("env -u EDGEFORGE_KUBECONFIG HOME=" + tmp.path().string() +
                          " EDGEFORGE_NODE_NAME=w sh " + EF_SOURCE_DIR +
                          "/layers/kubernetes/reboot-lock.sh 2>&1");
  if (!fs::exists("/etc/edgeforge/kubeconfig") && !fs::exists("/etc/rancher/k3s/k3s.yaml") &&
      !fs::exists("/etc/kubernetes/admin.conf")) {
    EXPECT_NE(none.status, 0);
    EXPECT_NE(none.out.find("no kubeconfig"), std::string::npos) << none.out;
  }
  // An API server that does not answer: postponed, one line.
  stop();
  auto down = lock("node-a");
  EXPECT_NE(down.status, 0);
  EXPECT_NE(down.out.find("cannot list the cluster's nodes"), std::string::npos) << down.out;
  EXPECT_EQ(std::count(down.out.begin(), down.out.end(), '\n'), 1) << down.out;
}

}  // namespace
}  // namespace ef::test
