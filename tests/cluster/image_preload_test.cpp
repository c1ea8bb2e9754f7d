// Container images in packs: the shipped OCI example archive (checked by
// skopeo, rebuilt reproducibly), blob digest verification at build time,
// and where images and charts land for kubeadm.
#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "builder/packs/image_archive.hpp"
#include "tests/cluster/cluster_fixture.hpp"
#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
const fs::path kHelloPack = fs::path(EF_SOURCE_DIR) / "examples/packs/store-hello";
const fs::path kHelloImage = kHelloPack / "images/store-hello.tar";
const std::string kK8sBase = "https://dl.k8s.io/release/v1.30.4/bin/linux/amd64/";
const std::string kCrictl =
    "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.30.0/"
    "crictl-v1.30.0-linux-amd64.tar.gz";

// An OCI archive whose blobs are whatever `blobs` says, named by the given
// digests (so a test can name a blob by a digest its bytes do not have).
struct OciFixture {
  std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
  std::string layer = "layer bytes";
  std::string layer_name;  // defaults to the layer's digest
  std::string manifest() const {
    return json{{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config",
                 {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", "sha256:" + sha256_hex(config)},
                  {"size", config.size()}}},
                {"layers",
                 {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                   {"digest", "sha256:" + sha256_hex(layer)},
                   {"size", layer.size()}}}}}
        .dump();
  }
  void write(const fs::path& path) const {
    std::string m = manifest();
    json index = {{"schemaVersion", 2},
                  {"manifests",
                   {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"digest", "sha256:" + sha256_hex(m)},
                     {"size", m.size()}}}}};
    std::string lname = layer_name.empty() ? sha256_hex(layer) : layer_name;
    write_tar(path, {TarEntry::file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"),
                     TarEntry::file("index.json", index.dump()),
                     TarEntry::file("blobs/sha256/" + sha256_hex(m), m),
                     TarEntry::file("blobs/sha256/" + sha256_hex(config), config),
                     TarEntry::file("blobs/sha256/" + lname, layer)});
  }
};

class ImagePreloadTest : public ClusterTest {
 protected:
  std::string k3s() {
    std::string url = "https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/k3s";
    return "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n    artifacts:\n"
           "      k3s: {sha256: " +
           serve(url, "k3s") + "}\n";
  }
  std::string kubeadm() {
    std::string kubelet = serve(kK8sBase + "kubelet", "kubelet-bin");
    std::string kubeadm = serve(kK8sBase + "kubeadm", "kubeadm-bin");
    std::string kubectl = serve(kK8sBase + "kubectl", "kubectl-bin");
    write_tar(tmp / "crictl.tar.gz", {TarEntry::file("crictl", "crictl-bin", 0755)},
              TarCompression::gzip);
    std::string crictl = serve(kCrictl, read_file(tmp / "crictl.tar.gz").value());
    return "  kubernetes:\n    distribution: kubeadm\n    version: v1.30.4\n"
           "    role: control-plane\n    artifacts:\n      kubelet: {sha256: " +
           kubelet + "}\n      kubeadm: {sha256: " + kubeadm +
           "}\n      kubectl: {sha256: " + kubectl + "}\n      crictl: {sha256: " + crictl + "}\n";
  }
  // Runs the image's install-charts.sh under tmp/ (its absolute paths moved
  // there) with stand-ins for helm and kubectl, which do not run here: the
  // first run installs each chart once, a second run changes nothing, new
  // values install again, and without helm the unit fails saying so.
  void run_install_charts(std::string script) {
    const std::string root = (tmp / "node").string();
    for (const std::string from : {"/var/lib/edgeforge", "/etc/kubernetes"})
      for (size_t at = 0; (at = script.find(from, at)) != std::string::npos;
           at += root.size() + from.size())
        script.insert(at, root);
    tmp.write("node/install-charts.sh", script);
    const std::string charts = "/var/lib/edgeforge/charts/";
    for (const char* f :
         {"podinfo-6.5.0.tgz", "addon-podinfo-6-5-0.values.yaml", "addon-podinfo-6-5-0.release"})
      tmp.write("node" + charts + f, content(charts + f));
    tmp.write("node/etc/kubernetes/admin.conf", "");
    tmp.write("bin/kubectl", "#!/bin/sh\nexit 0\n");
    tmp.write("bin/helm", "#!/bin/sh\necho \"$*\" >>" + (tmp / "helm.log").string() + "\n");
    fs::permissions(tmp / "bin/kubectl", fs::perms(0755));
    fs::permissions(tmp / "bin/helm", fs::perms(0755));
    std::string run =
        "PATH=" + (tmp / "bin").string() + ":/usr/bin:/bin sh " + root + "/install-charts.sh 2>&1";
    auto helm_calls = [&] {
      auto log = read_file(tmp / "helm.log");
      return log ? *log : std::string();
    };
    auto helm_runs = [&] {
      std::string log = helm_calls();
      return std::count(log.begin(), log.end(), '\n');
    };
    auto out = run_command(run);
    ASSERT_EQ(out.status, 0) << out.out;
    EXPECT_EQ(helm_calls(), "upgrade --install addon-podinfo-6-5-0 " + root + charts +
                                "podinfo-6.5.0.tgz --namespace monitoring --create-namespace "
                                "--values " +
                                root + charts + "addon-podinfo-6-5-0.values.yaml\n");
    out = run_command(run);
    ASSERT_EQ(out.status, 0) << out.out;
    EXPECT_EQ(helm_runs(), 1) << helm_calls();
    tmp.write("node" + charts + "addon-podinfo-6-5-0.values.yaml", "replicaCount: 5\n");
    out = run_command(run);
    ASSERT_EQ(out.status, 0) << out.out;
    EXPECT_EQ(helm_runs(), 2) << helm_calls();
    fs::remove(tmp / "bin/helm");
    out = run_command(run);
    EXPECT_NE(out.status, 0);
    EXPECT_NE(out.out.find("helm is not installed"), std::string::npos) << out.out;
  }

  // A pack "img" holding one image archive written by `fixture`.
  void write_image_pack(const OciFixture& fixture) {
    tmp.write("packs/img/pack.yaml", "name: img\nversion: 2.1.0\nlayer: addon\n");
    fs::create_directories(tmp / "packs/img/images");
    fixture.write(tmp / "packs/img/images/app.tar");
  }
};

TEST_F(ImagePreloadTest, ShippedExampleArchiveIsAValidOciImage) {
  auto ok = packs::verify_image_archive(kHelloImage, "images/store-hello.tar");
  ASSERT_TRUE(ok) << ok.error().message();
  // What the SBOM names: the containerd name and the manifest digest.
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].name, "docker.io/edgeforge/store-hello:1.0.0");
  EXPECT_EQ((*ok)[0].digest,
            "sha256:13311ac9e042f8ea62168bcd21ecf8f80a24cb2997606b65ca127b97c0adf299");
  if (!have_tool("skopeo")) GTEST_SKIP() << "skopeo is not installed";
  // skopeo reads the layout and checks every blob against its digest on copy.
  auto copy = run_command("skopeo copy -q oci-archive:" + kHelloImage.string() +
                          " dir:" + (tmp / "copy").string() + " 2>&1");
  EXPECT_EQ(copy.status, 0) << copy.out;
  auto inspect = run_command("skopeo inspect oci-archive:" + kHelloImage.string());
  ASSERT_EQ(inspect.status, 0) << inspect.out;
  json info = json::parse(inspect.out);
  EXPECT_EQ(info["Architecture"], "amd64");
  EXPECT_EQ(info["Layers"].size(), 1u);
}

TEST_F(ImagePreloadTest, ExampleImageScriptIsReproducible) {
  if (!have_tool("gcc")) GTEST_SKIP() << "gcc is not installed";
  std::string script = (kHelloPack / "image-src/make-image.sh").string();
  for (const char* name : {"a.tar", "b.tar"}) {
    auto out = run_command("sh " + script + " " + (tmp / name).string() + " 2>&1");
    ASSERT_EQ(out.status, 0) << out.out;
    EXPECT_NE(out.out.find("docker.io/edgeforge/store-hello:1.0.0"), std::string::npos);
  }
  EXPECT_EQ(read_file(tmp / "a.tar").value(), read_file(tmp / "b.tar").value());
  auto ok = packs::verify_image_archive(tmp / "a.tar", "a.tar");
  EXPECT_TRUE(ok) << ok.error().message();
  if (have_tool("shellcheck")) {
    auto sc = run_command("shellcheck " + script + " 2>&1");
    EXPECT_EQ(sc.status, 0) << sc.out;
  }
}

TEST_F(ImagePreloadTest, BlobWhoseBytesAreNotItsDigestFailsTheBuild) {
  write_base();
  OciFixture f;
  std::string claimed = sha256_hex("the layer that was built");
  f.layer_name = claimed;  // the manifest names the real digest, the blob file another
  write_image_pack(f);
  write_profile(k3s() + "  packs:\n    - path: packs/img\n");
  auto r = build::build_image(options());
  ASSERT_FALSE(r);
  const std::string& m = r.error().message();
  EXPECT_EQ(r.error().code(), Errc::checksum) << m;
  EXPECT_NE(m.find("pack img 2.1.0"), std::string::npos) << m;
  EXPECT_NE(m.find("images/app.tar"), std::string::npos) << m;
  EXPECT_NE(m.find("blob sha256:" + claimed + " has sha256 " + sha256_hex(f.layer)),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one line";
  EXPECT_FALSE(fs::exists(tmp / "out" / "image.squashfs"));
}

TEST_F(ImagePreloadTest, MissingBlobAndWrongSizeAreErrors) {
  OciFixture missing;
  missing.layer_name = sha256_hex("another layer");  // the named digest is absent
  missing.write(tmp / "missing.tar");
  auto r = packs::verify_image_archive(tmp / "missing.tar", "images/missing.tar");
  ASSERT_FALSE(r);
  // Its bytes do not match its name either: the digest check comes first.
  EXPECT_EQ(r.error().code(), Errc::checksum) << r.error().message();

  // A descriptor naming a blob the archive lacks.
  std::string m = OciFixture{}.manifest();
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", "sha256:" + sha256_hex(m)},
                   {"size", m.size()}}}}};
  write_tar(tmp / "absent.tar", {TarEntry::file("index.json", index.dump()),
                                 TarEntry::file("blobs/sha256/" + sha256_hex(m), m)});
  r = packs::verify_image_archive(tmp / "absent.tar", "images/absent.tar");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("names sha256:" + sha256_hex(OciFixture{}.config) +
                                     ", which the archive does not hold"),
            std::string::npos)
      << r.error().message();

  index["manifests"][0]["size"] = m.size() + 1;
  write_tar(tmp / "size.tar", {TarEntry::file("index.json", index.dump()),
                               TarEntry::file("blobs/sha256/" + sha256_hex(m), m)});
  r = packs::verify_image_archive(tmp / "size.tar", "images/size.tar");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("bytes, the archive holds " + std::to_string(m.size())),
            std::string::npos)
      << r.error().message();
}

TEST_F(ImagePreloadTest, KubeadmGetsImagesForContainerdAndChartsForHelm) {
  write_base(/*kubeadm_deps=*/true);
  tmp.write("packs/addon/pack.yaml",
            "name: addon\nversion: 1.0.0\nlayer: addon\nvalues:\n  namespace: monitoring\n"
            "  replicas: 2\n");
  fs::create_directories(tmp / "packs/addon/charts");
  write_tar(tmp / "packs/addon/charts/podinfo-6.5.0.tgz",
            {TarEntry::file("podinfo/Chart.yaml", "name: podinfo\nversion: 6.5.0\n")},
            TarCompression::gzip);
  tmp.write("packs/addon/charts/podinfo-6.5.0.values.yaml", "replicaCount: {{replicas}}\n");
  write_profile(kubeadm() + "  packs:\n    - path: " + kHelloPack.string() +
                "\n    - path: packs/addon\n");
  build_and_read();

  // The example image where edgeforge-import-images.service runs ctr import.
  const std::string preloaded = "/var/lib/edgeforge/images/store-hello-store-hello.tar";
  EXPECT_EQ(at(preloaded).type, image::NodeType::regular);
  EXPECT_EQ(content(preloaded), read_file(kHelloImage).value());
  EXPECT_TRUE(has("/etc/systemd/system/multi-user.target.wants/edgeforge-import-images.service"));
  EXPECT_NE(content("/var/lib/edgeforge/manifests/store-hello-store-hello.yaml")
                .find("imagePullPolicy: Never"),
            std::string::npos);

  // The chart, its rendered values and the release line the unit reads.
  EXPECT_TRUE(has("/var/lib/edgeforge/charts/podinfo-6.5.0.tgz"));
  EXPECT_EQ(content("/var/lib/edgeforge/charts/addon-podinfo-6-5-0.values.yaml"),
            "replicaCount: 2\n");
  EXPECT_EQ(content("/var/lib/edgeforge/charts/addon-podinfo-6-5-0.release"),
            "addon-podinfo-6-5-0 monitoring podinfo-6.5.0.tgz\n");
  EXPECT_EQ(
      at("/etc/systemd/system/multi-user.target.wants/edgeforge-install-charts.service").target,
      "/etc/systemd/system/edgeforge-install-charts.service");
  std::string script = content("/usr/lib/edgeforge/install-charts.sh");
  EXPECT_NE(script.find("helm upgrade --install"), std::string::npos);
  EXPECT_EQ(at("/usr/lib/edgeforge/install-charts.sh").mode, 0755u);
  if (have_tool("shellcheck")) {
    tmp.write("install-charts.sh", script);
    auto sc = run_command("shellcheck -s sh " + (tmp / "install-charts.sh").string() + " 2>&1");
    EXPECT_EQ(sc.status, 0) << sc.out;
  }
  run_install_charts(script);

  if (have_tool("unsquashfs")) {  // an outside reader sees the same placement
    auto ls = run_command("unsquashfs -lls " + result.image.string());
    EXPECT_NE(ls.out.find(preloaded), std::string::npos);
    EXPECT_NE(ls.out.find("/var/lib/edgeforge/charts/addon-podinfo-6-5-0.release"),
              std::string::npos);
  }
}

// `edgeforge validate` checks what the build would stop on later: a damaged
// image archive, a missing pin, and (offline) artifacts the cache lacks.
TEST_F(ImagePreloadTest, ValidateChecksImagesPinsAndCachedArtifacts) {
  write_base();
  OciFixture f;
  f.layer_name = sha256_hex("other");
  write_image_pack(f);
  write_profile(k3s() + "  packs:\n    - path: packs/img\n");
  fetch::CacheOptions co;
  co.dir = tmp / "cache";
  auto r = build::validate_profile(tmp / "profile.yaml", co);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("pack img 2.1.0"), std::string::npos) << r.error().message();

  write_profile("  kubernetes: {distribution: k3s, version: v1.31.0+k3s1}\n");
  r = build::validate_profile(tmp / "profile.yaml", co);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("artifacts.k3s.sha256 is required"), std::string::npos)
      << r.error().message();

  write_profile(k3s());
  co.offline = true;
  r = build::validate_profile(tmp / "profile.yaml", co);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::offline) << r.error().message();
  EXPECT_NE(r.error().message().find("kubernetes artifact k3s"), std::string::npos)
      << r.error().message();
  co.offline = false;
  EXPECT_TRUE(build::validate_profile(tmp / "profile.yaml", co));
}

}  // namespace
}  // namespace ef::test
