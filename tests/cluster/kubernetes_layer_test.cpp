// Both distributions' trees read back from the built image, artifact
// download/caching/verification through the mirror.
#include <filesystem>

#include "builder/kubernetes/kubernetes_layer.hpp"
#include "tests/cluster/cluster_fixture.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
const std::string kK3sUrl = "https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/k3s";
const std::string kK8sBase = "https://dl.k8s.io/release/v1.30.4/bin/linux/amd64/";
const std::string kCrictl =
    "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.30.0/"
    "crictl-v1.30.0-linux-amd64.tar.gz";

class KubernetesLayerTest : public ClusterTest {
 protected:
  std::string k3s_profile(const std::string& role, const std::string& sha,
                          const std::string& extra = "") {
    return "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n    role: " + role +
           "\n    config:\n      node-label: [\"site=store-1\"]\n      token: s3cret-join-token\n"
           "    artifacts:\n      k3s: {sha256: " +
           sha + "}\n" + extra;
  }
};

TEST_F(KubernetesLayerTest, K3sServerTree) {
  write_base();
  std::string sha = serve(kK3sUrl, "#!/bin/sh\necho fake k3s\n");
  write_profile(k3s_profile("server", sha));
  build_and_read();

  const auto& bin = at("/usr/local/bin/k3s");
  EXPECT_EQ(bin.type, tree::NodeType::regular);
  EXPECT_EQ(bin.mode, 0755u);
  EXPECT_EQ(content("/usr/local/bin/k3s"), "#!/bin/sh\necho fake k3s\n");
  for (const char* tool : {"kubectl", "crictl", "ctr"}) {
    const auto& link = at(std::string("/usr/local/bin/") + tool);
    EXPECT_EQ(link.type, tree::NodeType::symlink) << tool;
    EXPECT_EQ(link.target, "k3s") << tool;
  }
  const auto& wants = at("/etc/systemd/system/multi-user.target.wants/k3s.service");
  EXPECT_EQ(wants.type, tree::NodeType::symlink);
  EXPECT_EQ(wants.target, "/etc/systemd/system/k3s.service");
  EXPECT_NE(content("/etc/systemd/system/k3s.service").find("ExecStart=/usr/local/bin/k3s server"),
            std::string::npos);
  EXPECT_FALSE(has("/etc/systemd/system/k3s-agent.service"));
  EXPECT_FALSE(has("/etc/systemd/system/multi-user.target.wants/k3s-agent.service"));

  const auto& config = at("/etc/rancher/k3s/config.yaml");
  EXPECT_EQ(config.mode, 0600u);
  std::string cfg = content("/etc/rancher/k3s/config.yaml");
  EXPECT_NE(cfg.find("node-label:\n  - site=store-1\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("write-kubeconfig-mode: \"0600\"\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("token: s3cret-join-token\n"), std::string::npos) << cfg;

  EXPECT_EQ(at("/var/lib/rancher/k3s/agent/images").type, tree::NodeType::directory);
  EXPECT_EQ(at("/var/lib/rancher/k3s/server/manifests").type, tree::NodeType::directory);
  EXPECT_EQ(content("/etc/modules-load.d/k3s.conf"), "br_netfilter\noverlay\n");
  EXPECT_NE(content("/etc/sysctl.d/90-k3s.conf").find("net.ipv4.ip_forward = 1"),
            std::string::npos);
  EXPECT_EQ(content("/etc/os-release"), "ID=debian\n");  // the base is still there

  // The pre-reboot hook (reboot_lock_test.cpp runs it) and its release unit.
  EXPECT_EQ(at("/usr/lib/edgeforge/kube-reboot-lock").mode, 0755u);
  EXPECT_EQ(content("/usr/lib/edgeforge/kube-reboot-lock"),
            *read_file(std::string(EF_SOURCE_DIR) + "/layers/kubernetes/reboot-lock.sh"));
  EXPECT_EQ(at("/etc/edgeforge/pre-reboot.d/50-kubernetes").target,
            "/usr/lib/edgeforge/kube-reboot-lock");
  EXPECT_EQ(at("/etc/systemd/system/multi-user.target.wants/edgeforge-reboot-lock.service").target,
            "/etc/systemd/system/edgeforge-reboot-lock.service");
  EXPECT_NE(content("/etc/systemd/system/edgeforge-reboot-lock.service")
                .find("ExecStart=/usr/lib/edgeforge/kube-reboot-lock release"),
            std::string::npos);

  if (have_tool("unsquashfs")) {  // an outside reader sees the same links and modes
    auto ls = run_command("unsquashfs -lls " + result.image.string());
    EXPECT_NE(ls.out.find("/etc/systemd/system/multi-user.target.wants/k3s.service -> "
                          "/etc/systemd/system/k3s.service"),
              std::string::npos)
        << ls.out;
    EXPECT_NE(ls.out.find("-rw------- root/root"), std::string::npos);  // config.yaml
  }

  const auto& node = result.manifest_json["node"];
  EXPECT_EQ(node["kubernetes"]["distribution"], "k3s");
  EXPECT_EQ(node["kubernetes"]["artifacts"][0]["sha256"], sha);
  EXPECT_EQ(node["kubernetes"]["artifacts"][0]["url"], mirror() + mirror_path(kK3sUrl));
  // The join token is in the image but not in the manifest.
  EXPECT_EQ(result.manifest_json.dump().find("s3cret-join-token"), std::string::npos);
}

TEST_F(KubernetesLayerTest, K3sAgentEnablesAgentUnit) {
  write_base();
  std::string sha = serve(kK3sUrl, "k3s");
  write_profile(k3s_profile("agent", sha));
  build_and_read();
  EXPECT_EQ(at("/etc/systemd/system/multi-user.target.wants/k3s-agent.service").target,
            "/etc/systemd/system/k3s-agent.service");
  EXPECT_FALSE(has("/etc/systemd/system/multi-user.target.wants/k3s.service"));
  EXPECT_NE(content("/etc/systemd/system/k3s-agent.service").find("k3s agent"), std::string::npos);
}

TEST_F(KubernetesLayerTest, KubeadmControlPlaneTree) {
  write_base(/*kubeadm_deps=*/true);
  std::string kubelet = serve(kK8sBase + "kubelet", "kubelet-bin");
  std::string kubeadm = serve(kK8sBase + "kubeadm", "kubeadm-bin");
  std::string kubectl = serve(kK8sBase + "kubectl", "kubectl-bin");
  write_tar(tmp / "crictl.tar.gz", {TarEntry::file("crictl", "crictl-bin", 0755)},
            TarCompression::gzip);
  std::string tgz = run_command("cat " + (tmp / "crictl.tar.gz").string()).out;
  std::string crictl = serve(kCrictl, tgz);
  write_profile(
      "  kubernetes:\n    distribution: kubeadm\n    version: v1.30.4\n    role: control-plane\n"
      "    config:\n      cluster:\n        controlPlaneEndpoint: \"10.0.0.10:6443\"\n"
      "        networking: {podSubnet: 10.244.0.0/16}\n      kubelet:\n        maxPods: 50\n"
      "    artifacts:\n      kubelet: {sha256: " +
      kubelet + "}\n      kubeadm: {sha256: " + kubeadm + "}\n      kubectl: {sha256: " + kubectl +
      "}\n      crictl: {sha256: " + crictl + "}\n");
  build_and_read();

  for (const char* b : {"kubelet", "kubeadm", "kubectl", "crictl"}) {
    EXPECT_EQ(at(std::string("/usr/bin/") + b).mode, 0755u) << b;
    EXPECT_EQ(content(std::string("/usr/bin/") + b), std::string(b) + "-bin");
  }
  EXPECT_EQ(at("/etc/systemd/system/multi-user.target.wants/kubelet.service").target,
            "/etc/systemd/system/kubelet.service");
  EXPECT_TRUE(has("/etc/systemd/system/multi-user.target.wants/edgeforge-apply-manifests.service"));
  EXPECT_NE(
      content("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf").find("KUBELET_KUBEADM_ARGS"),
      std::string::npos);
  EXPECT_EQ(content("/etc/modules-load.d/kubeadm.conf"), "br_netfilter\noverlay\n");
  EXPECT_NE(content("/etc/sysctl.d/90-kubeadm.conf").find("net.bridge.bridge-nf-call-iptables = 1"),
            std::string::npos);
  EXPECT_EQ(at("/etc/systemd/system/swap.target").target, "/dev/null");  // swap off
  EXPECT_EQ(at("/opt/cni/bin").target, "/usr/lib/cni");
  std::string cfg = content("/etc/kubernetes/kubeadm.yaml");
  EXPECT_NE(cfg.find("kind: InitConfiguration"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("kind: ClusterConfiguration"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("controlPlaneEndpoint: \"10.0.0.10:6443\""), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("kubernetesVersion: v1.30.4"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("maxPods: 50"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("cgroupDriver: systemd"), std::string::npos) << cfg;
  EXPECT_EQ(cfg.find("JoinConfiguration"), std::string::npos) << cfg;
}

TEST_F(KubernetesLayerTest, KubeadmNeedsContainerdInTheBase) {
  write_base(/*kubeadm_deps=*/false);
  std::string s = serve(kK8sBase + "kubelet", "x");
  write_tar(tmp / "crictl.tar.gz", {TarEntry::file("crictl", "c", 0755)}, TarCompression::gzip);
  std::string c = serve(kCrictl, run_command("cat " + (tmp / "crictl.tar.gz").string()).out);
  serve(kK8sBase + "kubeadm", "x");
  serve(kK8sBase + "kubectl", "x");
  write_profile(
      "  kubernetes:\n    distribution: kubeadm\n    version: v1.30.4\n    artifacts:\n"
      "      kubelet: {sha256: " +
      s + "}\n      kubeadm: {sha256: " + s + "}\n      kubectl: {sha256: " + s +
      "}\n      crictl: {sha256: " + c + "}\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/usr/bin/containerd: add the containerd package"),
            std::string::npos)
      << r.error().message();
}

TEST_F(KubernetesLayerTest, Sha256MismatchFailsAndLeavesNothingInTheCache) {
  write_base();
  serve(kK3sUrl, "tampered binary");
  std::string wrong = sha256_hex("the real binary");
  write_profile(k3s_profile("server", wrong));
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::checksum);
  const std::string& msg = r.error().message();
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("kubernetes artifact k3s"), std::string::npos) << msg;
  EXPECT_NE(msg.find(wrong), std::string::npos) << msg;
  // Nothing verified-looking, nothing partial.
  for (const auto& e : fs::recursive_directory_iterator(tmp / "cache"))
    EXPECT_FALSE(e.is_regular_file()) << e.path();
  EXPECT_FALSE(fs::exists(tmp / "out" / "node-1.0.0.squashfs"));
}

TEST_F(KubernetesLayerTest, DownloadedArtifactIsReusedOffline) {
  write_base();
  std::string sha = serve(kK3sUrl, "k3s binary");
  write_profile(k3s_profile("server", sha));
  build_and_read();
  int requests = server.requests();
  EXPECT_EQ(server.paths().back(), mirror_path(kK3sUrl));
  std::string first = result.image_sha256;
  fs::remove_all(tmp / "out");
  build_and_read(/*offline=*/true);
  EXPECT_EQ(server.requests(), requests);  // no network
  EXPECT_EQ(result.image_sha256, first);   // same bytes
  EXPECT_EQ(content("/usr/local/bin/k3s"), "k3s binary");
}

// k3s's own images for offline nodes: only when the profile asks for them,
// pinned like every artifact, in the folder k3s imports from.
TEST_F(KubernetesLayerTest, K3sAirgapImagesAreOptIn) {
  write_base();
  std::string sha = serve(kK3sUrl, "k3s binary");
  write_profile(k3s_profile("server", sha));
  build_and_read();
  EXPECT_FALSE(has("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst"));

  const std::string url =
      "https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/"
      "k3s-airgap-images-amd64.tar.zst";
  std::string images = serve(url, "zstd images");
  fs::remove_all(tmp / "out");
  write_profile(k3s_profile("server", sha, "      k3s-airgap-images: {sha256: " + images + "}\n"));
  build_and_read();
  const auto& e = at("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst");
  EXPECT_EQ(e.mode, 0644u);
  EXPECT_EQ(content("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst"),
            "zstd images");

  // Named without a pin: the same error as any unpinned artifact.
  write_profile(k3s_profile("server", sha, "      k3s-airgap-images: {}\n"));
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("artifacts.k3s-airgap-images.sha256 is required"),
            std::string::npos)
      << r.error().message();
}

TEST_F(KubernetesLayerTest, OfflineWithoutCachedArtifactSaysSo) {
  write_base();
  write_profile(k3s_profile("server", sha256_hex("k3s")));
  auto r = build::build_image(options(/*offline=*/true));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::offline) << r.error().message();
}

TEST_F(KubernetesLayerTest, MissingPinNamesWhereUpstreamPublishesIt) {
  write_base();
  write_profile("  kubernetes: {distribution: k3s, version: v1.30.4+k3s1}\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("spec.kubernetes.artifacts.k3s.sha256 is required"),
            std::string::npos);
  EXPECT_NE(r.error().message().find("sha256sum-amd64.txt"), std::string::npos)
      << r.error().message();
}

// A release the definition knows needs no pin; the arch picks the digest,
// and a profile's own pin still wins.
TEST(KubernetesPlanTest, KnownReleasesArePinnedByTheDefinition) {
  profile::Kubernetes k;
  k.distribution = "k3s";
  k.version = "v1.32.7+k3s1";
  k.arch = "arm64";
  auto plan = kubernetes::plan_kubernetes(k, "");
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->artifacts.size(), 1u);
  EXPECT_EQ(plan->artifacts[0].sha256,
            "cf4ca4b9e38621fd6b111ab12b15d2dd9cbdb8a9aee55d7ffaa38325da1f1e94");
  EXPECT_EQ(plan->artifacts[0].url,
            "https://github.com/k3s-io/k3s/releases/download/v1.32.7+k3s1/k3s-arm64");
  k.arch = "amd64";
  k.artifacts["k3s"].sha256 = std::string(64, 'a');
  plan = kubernetes::plan_kubernetes(k, "");
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->artifacts[0].sha256, std::string(64, 'a'));
}

TEST_F(KubernetesLayerTest, UnknownDistributionAndRoleAreProfileErrors) {
  write_base();
  write_profile("  kubernetes: {distribution: rke9, version: v1.30.4}\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("unknown distribution 'rke9' (known: "), std::string::npos)
      << r.error().message();
  write_profile("  kubernetes: {distribution: k3s, version: v1.30.4+k3s1, role: worker}\n");
  r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("k3s has no role 'worker' (roles: server, agent)"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("profile.yaml:"), std::string::npos);
}

TEST_F(KubernetesLayerTest, ExplicitArtifactUrlWinsOverMirror) {
  write_base();
  server.route("/custom/k3s", "custom");
  write_profile(
      "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n    artifacts:\n"
      "      k3s: {url: \"" +
      server.url("/custom/k3s") + "\", sha256: " + sha256_hex("custom") + "}\n");
  build_and_read();
  EXPECT_EQ(content("/usr/local/bin/k3s"), "custom");
}

}  // namespace
}  // namespace ef::test
