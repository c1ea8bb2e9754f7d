// examples/k3s-store (system + cluster profile with the flannel and
// store-status packs) built end to end. k3s itself cannot be downloaded
// here, so a child profile pins a generated stand-in served through
// --artifact-mirror, and swaps the mmdebstrap base for a small tarball.
#include <filesystem>

#include "builder/cluster/provision.hpp"
#include "tests/cluster/cluster_fixture.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
const fs::path kCluster = fs::path(EF_SOURCE_DIR) / "examples/k3s-store/cluster.yaml";
const std::string kK3sUrl = "https://github.com/k3s-io/k3s/releases/download/v1.32.7+k3s1/k3s";

class ExampleClusterTest : public ClusterTest {
 protected:
  void write_child() {
    write_base();
    std::string sha = serve(kK3sUrl, "#!/bin/sh\necho stand-in k3s\n");
    tmp.write("profile.yaml",
              "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nspec:\n  extends: [" +
                  kCluster.string() +
                  "]\n  base:\n    tarball: {path: rootfs.tar}\n  kubernetes:\n"
                  "    artifacts:\n      k3s: {sha256: " +
                  sha + "}\n");
  }
};

TEST_F(ExampleClusterTest, BuildsWithPacksSiteAndK3s) {
  write_child();
  build_and_read();
  std::string flannel = content("/var/lib/rancher/k3s/server/manifests/flannel-kube-flannel.yaml");
  EXPECT_NE(flannel.find("\"Network\": \"10.42.0.0/16\""), std::string::npos) << flannel;
  // The agent checks the distribution's unit by default (a k3s server here).
  std::string agent = content("/etc/edgeforge/agent.json");
  EXPECT_NE(agent.find("\"units\":[\"k3s.service\"]"), std::string::npos) << agent;
  EXPECT_NE(flannel.find("image: \"docker.io/flannel/flannel:v0.25.6\""), std::string::npos);
  EXPECT_NE(flannel.find("edgeforge.dev/pack: \"flannel-0.25.6\""), std::string::npos);
  std::string status =
      content("/var/lib/rancher/k3s/server/manifests/store-status-store-status.yaml");
  EXPECT_NE(status.find("replicas: 2"), std::string::npos) << status;
  EXPECT_NE(status.find("<p>Store 001 is up</p>"), std::string::npos) << status;
  EXPECT_NE(status.find("nodePort: 30080"), std::string::npos) << status;
  EXPECT_EQ(content("/etc/edgeforge/addons/store-status.conf"), "page=http://localhost:30080/\n");
  // store-hello's OCI archive, byte for byte, in k3s's airgap images folder.
  const std::string airgap = "/var/lib/rancher/k3s/agent/images/store-hello-store-hello.tar";
  EXPECT_EQ(content(airgap),
            read_file(fs::path(EF_SOURCE_DIR) / "examples/packs/store-hello/images/store-hello.tar")
                .value());
  std::string hello = content("/var/lib/rancher/k3s/server/manifests/store-hello-store-hello.yaml");
  EXPECT_NE(hello.find("value: \"Hello from store 001\""), std::string::npos) << hello;
  if (have_tool("unsquashfs")) {
    auto ls = run_command("unsquashfs -lls " + result.image.string());
    // unsquashfs's line for it: mode, owner and the archive's size.
    size_t at_path = ls.out.find(airgap);
    ASSERT_NE(at_path, std::string::npos) << ls.out;
    std::string line =
        ls.out.substr(ls.out.rfind('\n', at_path) + 1, at_path - ls.out.rfind('\n', at_path) - 1);
    EXPECT_EQ(line.rfind("-rw-r--r-- root/root", 0), 0u) << line;
    auto size = fs::file_size(fs::path(EF_SOURCE_DIR) /
                              "examples/packs/store-hello/images/store-hello.tar");
    EXPECT_NE(line.find(" " + std::to_string(size) + " "), std::string::npos) << line;
  }
  std::string cfg = content("/etc/rancher/k3s/config.yaml");
  EXPECT_NE(cfg.find("flannel-backend: none"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("disable:\n  - traefik"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("node-name: store-001\n"), std::string::npos) << cfg;  // the site's name
  EXPECT_EQ(content("/etc/hostname"), "store-001\n");
  EXPECT_NE(content("/etc/rancher/k3s/registries.yaml").find("registry.store-001.example:5000"),
            std::string::npos);
  EXPECT_EQ(at("/etc/systemd/system/multi-user.target.wants/k3s.service").type,
            tree::NodeType::symlink);
  EXPECT_EQ(content("/etc/default/locale"), "LANG=C.UTF-8\n");  // from ../system/base.yaml
  EXPECT_EQ(result.manifest_json["profile"]["name"], "k3s-store");
}

TEST_F(ExampleClusterTest, ProvisionScriptForTheExampleIsShellcheckClean) {
  write_child();
  fetch::CacheOptions co;
  co.dir = tmp / "cache";
  fetch::Cache cache(co);
  auto b = cluster::write_provision_script(tmp / "profile.yaml", cache, mirror(), tmp / "bundle");
  ASSERT_TRUE(b) << b.error().message();
  if (!have_tool("shellcheck")) GTEST_SKIP() << "shellcheck is not installed";
  auto out = run_command("shellcheck -s sh " + b->script.string() + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
}

// Run as shipped, the example needs no pin of its own: the k3s definition
// knows v1.32.7+k3s1's upstream digest, so bytes that are not that release
// (here the stand-in) fail the build naming the expected digest.
TEST_F(ExampleClusterTest, ExampleIsPinnedToTheUpstreamDigest) {
  write_base();
  serve(kK3sUrl, "#!/bin/sh\necho stand-in k3s\n");
  tmp.write("profile.yaml",
            "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nspec:\n  extends: [" +
                kCluster.string() + "]\n  base:\n    tarball: {path: rootfs.tar}\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::checksum) << r.error().message();
  EXPECT_NE(
      r.error().message().find("e15ced04176d2a3f8754a872012db0f6e043aea1b00c0421e4c3328d9ffb8dde"),
      std::string::npos)
      << r.error().message();
  EXPECT_FALSE(fs::exists(tmp / "out")) << "a failed build leaves no output";
}

}  // namespace
}  // namespace ef::test
