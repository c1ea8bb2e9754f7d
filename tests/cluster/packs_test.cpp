// Packs in built images: constraints, values, manifests, charts, images.
#include <filesystem>

#include "tests/cluster/cluster_fixture.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
const std::string kK3sUrl = "https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/k3s";

class PacksTest : public ClusterTest {
 protected:
  std::string k3s() {
    std::string sha = serve(kK3sUrl, "k3s");
    return "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n    artifacts:\n"
           "      k3s: {sha256: " +
           sha + "}\n";
  }
  void write_pack(const std::string& dir, const std::string& yaml) {
    tmp.write(dir + "/pack.yaml", yaml);
  }
  // A CNI pack with a manifest template, an image archive and a file.
  void write_cni() {
    write_pack(
        "packs/cni",
        "name: cni\nversion: 3.27.0\nlayer: cni\nconstraints:\n  distributions: [k3s, kubeadm]\n"
        "values:\n  podCIDR: 10.42.0.0/16\n  mtu: 1450\n  debug: false\n");
    tmp.write("packs/cni/manifests/cni.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{pack.name}}-config\ndata:\n"
              "  cidr: \"{{podCIDR}}\"\n  mtu: \"{{mtu}}\"\n{{#debug}}  debug: \"on\"\n{{/debug}}");
    fs::create_directories(tmp / "packs/cni/images");
    write_tar(
        tmp / "packs/cni/images/cni.tar",
        {TarEntry::file("manifest.json",
                        "[{\"Config\":\"c.json\",\"RepoTags\":[\"cni:3.27.0\"],\"Layers\":[]}]"),
         TarEntry::file("c.json", "{}")});
    tmp.write("packs/cni/files/etc/cni/net.d/10-cni.conflist", "{}\n");
  }
  void write_addon(const std::string& depends) {
    write_pack("packs/addon",
               "name: addon\nversion: 1.0.0\nlayer: addon\nconstraints:\n  depends:\n" + depends +
                   "values:\n  replicas: 1\n  namespace: monitoring\n");
    fs::create_directories(tmp / "packs/addon/charts");
    write_tar(tmp / "packs/addon/charts/podinfo-6.5.0.tgz",
              {TarEntry::file("podinfo/Chart.yaml", "name: podinfo\nversion: 6.5.0\n")},
              TarCompression::gzip);
    tmp.write("packs/addon/charts/podinfo-6.5.0.values.yaml", "replicaCount: {{replicas}}\n");
  }
};

TEST_F(PacksTest, ManifestsValuesChartsAndImagesLandWhereK3sReadsThem) {
  write_base();
  write_cni();
  write_addon("    - {name: cni, version: \">=3.26.0 <4.0.0\"}\n");
  write_profile(k3s() +
                "  packs:\n    - path: packs/cni\n      values: {mtu: 9000, debug: true}\n"
                "    - {path: packs/addon, values: {replicas: 3}}\n");
  build_and_read();
  std::string m = content("/var/lib/rancher/k3s/server/manifests/cni-cni.yaml");
  EXPECT_NE(m.find("name: cni-config"), std::string::npos) << m;
  EXPECT_NE(m.find("cidr: \"10.42.0.0/16\""), std::string::npos) << m;  // default kept
  EXPECT_NE(m.find("mtu: \"9000\""), std::string::npos) << m;           // profile wins
  EXPECT_NE(m.find("debug: \"on\""), std::string::npos) << m;
  EXPECT_EQ(at("/var/lib/rancher/k3s/agent/images/cni-cni.tar").type, image::NodeType::regular);
  EXPECT_EQ(content("/etc/cni/net.d/10-cni.conflist"), "{}\n");
  EXPECT_TRUE(has("/var/lib/rancher/k3s/server/static/charts/podinfo-6.5.0.tgz"));
  std::string hc = content("/var/lib/rancher/k3s/server/manifests/addon-podinfo-6-5-0.yaml");
  EXPECT_NE(hc.find("kind: HelmChart"), std::string::npos) << hc;
  EXPECT_NE(hc.find("chart: \"https://%{KUBERNETES_API}%/static/charts/podinfo-6.5.0.tgz\""),
            std::string::npos)
      << hc;
  EXPECT_NE(hc.find("targetNamespace: monitoring"), std::string::npos) << hc;
  EXPECT_NE(hc.find("valuesContent: \"replicaCount: 3\\n\""), std::string::npos) << hc;
  auto packs = result.manifest_json["node"]["packs"];
  ASSERT_EQ(packs.size(), 2u);
  EXPECT_EQ(packs[0]["name"], "cni");
  EXPECT_EQ(packs[0]["version"], "3.27.0");
}

TEST_F(PacksTest, PackAsTarGzWorksLikeADirectory) {
  write_base();
  write_tar(tmp / "tools.tar.gz",
            {TarEntry::file("tools/pack.yaml", "name: tools\nversion: 0.1.0\nlayer: system\n"),
             TarEntry::file("tools/files/usr/local/bin/hello", "#!/bin/sh\necho hi\n", 0755)},
            TarCompression::gzip);
  write_profile("  packs:\n    - path: tools.tar.gz\n");
  build_and_read();
  EXPECT_EQ(at("/usr/local/bin/hello").mode, 0755u);
  EXPECT_EQ(content("/usr/local/bin/hello"), "#!/bin/sh\necho hi\n");
}

TEST_F(PacksTest, UnmetDependencyNamesBothPacksAndVersions) {
  write_base();
  write_cni();
  write_addon("    - {name: cni, version: \">=4.0.0\"}\n");
  write_profile(k3s() + "  packs:\n    - path: packs/cni\n    - path: packs/addon\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(
                "pack addon 1.0.0 depends on cni >=4.0.0, but the profile has cni 3.27.0"),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(server.requests(), 0);  // checked before anything was fetched
}

TEST_F(PacksTest, MissingDependency) {
  write_base();
  write_addon("    - {name: cni, version: \"^3.0.0\"}\n");
  write_profile(k3s() + "  packs:\n    - path: packs/addon\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(
                "pack addon 1.0.0 depends on cni ^3.0.0, which the profile does not include"),
            std::string::npos)
      << r.error().message();
}

TEST_F(PacksTest, ConflictNamesBothPacksAndVersions) {
  write_base();
  write_cni();
  write_pack("packs/other",
             "name: other-cni\nversion: 2.1.0\nlayer: cni\nconstraints:\n  conflicts:\n"
             "    - {name: cni}\n");
  write_profile(k3s() + "  packs:\n    - path: packs/cni\n    - path: packs/other\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("pack other-cni 2.1.0 conflicts with cni 3.27.0"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("profile.yaml:"), std::string::npos);
}

TEST_F(PacksTest, DistributionConstraint) {
  write_base();
  write_pack("packs/k3only",
             "name: k3only\nversion: 1.0.0\nlayer: addon\nconstraints:\n"
             "  distributions: [kubeadm]\n");
  write_profile(k3s() + "  packs:\n    - path: packs/k3only\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(
      r.error().message().find("pack k3only 1.0.0 supports the distributions kubeadm, but the "
                               "profile uses k3s"),
      std::string::npos)
      << r.error().message();
}

TEST_F(PacksTest, BadPackFilesAreClearErrors) {
  write_base();
  write_pack("packs/bad", "name: bad\nversion: \"1.0\"\nlayer: cni\n");
  write_profile("  packs:\n    - path: packs/bad\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("version: expected semver like 1.2.3, got '1.0'"),
            std::string::npos)
      << r.error().message();

  write_pack("packs/bad", "name: bad\nversion: 1.0.0\nlayer: cni\n");
  tmp.write("packs/bad/images/not-an-image.tar", "");
  write_tar(tmp / "packs/bad/images/not-an-image.tar", {TarEntry::file("hello", "x")});
  write_profile(k3s() + "  packs:\n    - path: packs/bad\n");
  r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a container image archive"), std::string::npos)
      << r.error().message();

  // Constraints of the wrong type are errors, not exceptions (found by
  // fuzz_pack: a list inside distributions aborted the build).
  for (const auto& [constraints, want] : std::vector<std::pair<std::string, std::string>>{
           {"  distributions: [[k3s]]\n",
            "constraints.distributions: expected a list of names, found [\"k3s\"]"},
           {"  distributions: k3s\n", "constraints.distributions: expected a list of names"},
           {"  depends: [{name: cni, version: 3}]\n", "3 is not a version range"}}) {
    write_pack("packs/bad", "name: bad\nversion: 1.0.0\nlayer: cni\nconstraints:\n" + constraints);
    write_profile("  packs:\n    - path: packs/bad\n");
    r = build::build_image(options());
    ASSERT_FALSE(r) << constraints;
    EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
  }
}

TEST_F(PacksTest, ManifestThatRendersToBrokenYamlFailsTheBuild) {
  write_base();
  write_pack("packs/m", "name: m\nversion: 1.0.0\nlayer: addon\nvalues: {name: \"a: b: c\"}\n");
  tmp.write("packs/m/manifests/x.yaml", "metadata:\n  name: {{name}}\n");
  write_profile(k3s() + "  packs:\n    - path: packs/m\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("x.yaml (rendered)"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("pack m 1.0.0"), std::string::npos) << r.error().message();
}

TEST_F(PacksTest, KubernetesContentWithoutKubernetesIsAnError) {
  write_base();
  write_cni();
  write_profile("  packs:\n    - path: packs/cni\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(
                "supports the distributions k3s, kubeadm, but the profile uses none"),
            std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace ef::test
