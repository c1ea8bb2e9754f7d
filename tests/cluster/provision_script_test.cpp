// The provision script: shellcheck-clean, installs the node layer under a
// root directory, and a second run changes nothing.
#include "builder/cluster/provision.hpp"

#include <filesystem>

#include "tests/cluster/cluster_fixture.hpp"
#include "tests/support/command.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;

class ProvisionScriptTest : public ClusterTest {
 protected:
  void make_bundle() {
    write_base();
    std::string sha = serve("https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/k3s",
                            "#!/bin/sh\necho k3s\n");
    tmp.write("packs/tools/pack.yaml",
              "name: tools\nversion: 1.0.0\nlayer: addon\nvalues: {n: 2}\n");
    tmp.write("packs/tools/manifests/cm.yaml", "kind: ConfigMap\ndata:\n  n: \"{{n}}\"\n");
    tmp.write("site.yaml",
              "hostname: edge-1\nregistration: {endpoint: https://fleet, token: TOKEN123}\n");
    write_profile(
        "  site: site.yaml\n  packs:\n    - {path: packs/tools, values: {n: 5}}\n"
        "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n    artifacts:\n"
        "      k3s: {sha256: " +
        sha + "}\n");
    fetch::CacheOptions co;
    co.dir = tmp / "cache";
    fetch::Cache cache(co);
    auto b = cluster::write_provision_script(tmp / "profile.yaml", cache, mirror(), tmp / "bundle");
    ASSERT_TRUE(b) << b.error().message();
    bundle = *b;
  }
  CommandOutput run(const std::string& root) {
    return run_command("EF_ROOT=" + root + " sh " + bundle.script.string() + " 2>&1");
  }
  node::ProvisionBundle bundle;
};

TEST_F(ProvisionScriptTest, PassesShellcheck) {
  make_bundle();
  if (!have_tool("shellcheck")) GTEST_SKIP() << "shellcheck is not installed";
  auto out = run_command("shellcheck -s sh " + bundle.script.string() + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
}

TEST_F(ProvisionScriptTest, SecondRunChangesNothing) {
  make_bundle();
  fs::path root = tmp / "root";
  fs::create_directories(root);
  auto first = run(root.string());
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find("installed /usr/local/bin/k3s"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find(" 0 change(s)"), std::string::npos) << first.out;
  auto listing =
      "cd " + root.string() +
      " && find . -printf '%p %y %m %l\\n' | sort && find . -type f | sort | xargs sha256sum";
  auto before = run_command(listing).out;

  auto second = run(root.string());
  ASSERT_EQ(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("edgeforge provision: 0 change(s)"), std::string::npos) << second.out;
  EXPECT_EQ(run_command(listing).out, before);

  EXPECT_EQ(run_command("cat " + (root / "usr/local/bin/k3s").string()).out,
            "#!/bin/sh\necho k3s\n");
  EXPECT_EQ(run_command("stat -c %a " + (root / "usr/local/bin/k3s").string()).out, "755\n");
  EXPECT_EQ(run_command("readlink " +
                        (root / "etc/systemd/system/multi-user.target.wants/k3s.service").string())
                .out,
            "/etc/systemd/system/k3s.service\n");
  EXPECT_NE(
      run_command("cat " + (root / "var/lib/rancher/k3s/server/manifests/tools-cm.yaml").string())
          .out.find("n: \"5\""),
      std::string::npos);
  EXPECT_EQ(run_command("cat " + (root / "etc/hostname").string()).out, "edge-1\n");
  EXPECT_EQ(run_command("stat -c %a " + (root / "etc/edgeforge/registration.yaml").string()).out,
            "600\n");
  EXPECT_EQ(second.out.find("TOKEN123"), std::string::npos);
}

TEST_F(ProvisionScriptTest, RepairsDriftAndRefusesCorruptFiles) {
  make_bundle();
  fs::path root = tmp / "root";
  fs::create_directories(root);
  ASSERT_EQ(run(root.string()).status, 0);
  tmp.write("root/etc/hostname", "changed\n");
  auto again = run(root.string());
  EXPECT_NE(again.out.find("installed /etc/hostname"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find(" 1 change(s)"), std::string::npos) << again.out;

  // A corrupt bundle file is caught by its sha256 before it is installed.
  fs::remove_all(root);
  fs::create_directories(root);
  for (const auto& f : fs::directory_iterator(bundle.files_dir))
    run_command("printf x >> " + f.path().string());
  auto bad = run(root.string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("sha256 is"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace {

TEST(ProvisionScriptRenderTest, KeepsHostDirectoriesWhereTheImageHasALink) {
  TempDir tmp;
  node::Content c;
  c.link("/opt/cni/bin", "/usr/lib/cni", "kubernetes kubeadm");
  auto b = node::write_provision_bundle(c, {}, "test", tmp / "bundle");
  ASSERT_TRUE(b) << b.error().message();
  tmp.write("root/opt/cni/bin/bridge", "plugin");
  auto out =
      run_command("EF_ROOT=" + (tmp / "root").string() + " sh " + b->script.string() + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
  EXPECT_NE(out.out.find("warning: kept the directory /opt/cni/bin"), std::string::npos) << out.out;
  EXPECT_EQ(run_command("cat " + (tmp / "root/opt/cni/bin/bridge").string()).out, "plugin");
}

}  // namespace
}  // namespace ef::test
