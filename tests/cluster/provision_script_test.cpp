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
  void make_bundle(const std::string& site_extra = "") {
    write_base();
    std::string sha = serve("https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/k3s",
                            "#!/bin/sh\necho k3s\n");
    tmp.write("packs/tools/pack.yaml",
              "name: tools\nversion: 1.0.0\nlayer: addon\nvalues: {n: 2}\n");
    tmp.write("packs/tools/manifests/cm.yaml", "kind: ConfigMap\ndata:\n  n: \"{{n}}\"\n");
    tmp.write("site.yaml",
              "hostname: edge-1\nregistration: {endpoint: https://fleet, token: TOKEN123}\n" +
                  site_extra);
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
  // Stand-ins for the host commands a live run uses, first on PATH: each
  // appends its command line to host.log; hostname, getent and
  // systemctl is-active answer from what the others did, like a host would.
  void write_host_stubs() {
    const std::string log = (tmp / "host.log").string();
    const std::string state = (tmp / "state").string();
    fs::create_directories(tmp / "state");
    auto stub = [&](const std::string& name, const std::string& body) {
      auto f = tmp.write("stubs/" + name,
                         "#!/bin/sh\necho \"" + name + " $*\" >> '" + log + "'\n" + body);
      fs::permissions(f, fs::perms::owner_all);
    };
    stub("hostnamectl", "echo \"$2\" > '" + state + "/hostname'\n");
    stub("hostname", "cat '" + state + "/hostname' 2>/dev/null || echo old-name\n");
    stub("systemd-sysusers", "touch '" + state + "/users'\n");
    stub("getent", "[ -e '" + state + "/users' ]\n");
    stub("systemctl", "case \"$1\" in\n  start) touch '" + state +
                          "/'\"$2\" ;;\n  is-active) [ -e '" + state + "/'\"$3\" ] ;;\nesac\n");
    for (const char* name : {"netplan", "networkctl", "sysctl", "modprobe", "swapoff", "apt-get"})
      stub(name, "");
  }
  // A live-host run (EF_APPLY=1) against `root` with the stubs; returns the
  // script's output, the log of host commands is in host.log.
  CommandOutput run_live(const fs::path& root) {
    return run_command("PATH=" + (tmp / "stubs").string() + ":$PATH EF_APPLY=1 EF_ROOT=" +
                       root.string() + " sh " + bundle.script.string() + " 2>&1");
  }
  std::string host_log() { return run_command("cat " + (tmp / "host.log").string()).out; }
  static constexpr const char* kUsersAndNetwork =
      "users:\n  - {name: ops, groups: [sudo], sshAuthorizedKeys: [\"ssh-ed25519 AAAA ops@x\"]}\n"
      "network:\n  interfaces:\n    - {name: \"en*\", dhcp: true}\n";
  node::ProvisionBundle bundle;
};

// With no network, provision-script lists every artifact the cache lacks in
// one error and does not wait through retries: the first refused connection
// ends the tries for that host.
TEST_F(ProvisionScriptTest, UnreachableMirrorListsEveryMissingArtifactWithoutRetrying) {
  write_base();
  write_profile(
      "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n"
      "    artifacts:\n      k3s: {sha256: " +
      std::string(64, 'b') + "}\n      k3s-airgap-images: {sha256: " + std::string(64, 'c') +
      "}\n");
  fetch::CacheOptions co;
  co.dir = tmp / "cache";  // default retries: 4
  fetch::Cache cache(co);
  auto b =
      cluster::write_provision_script(tmp / "profile.yaml", cache, refused_url(""), tmp / "bundle");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), Errc::network);
  const std::string& msg = b.error().message();
  EXPECT_NE(msg.find("2 input(s) could not be downloaded"), std::string::npos) << msg;
  EXPECT_NE(msg.find("profile.yaml:12:5: kubernetes artifact k3s: cannot download"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(not retried: the host cannot be reached"), std::string::npos) << msg;
  EXPECT_NE(msg.find("profile.yaml:12:5: kubernetes artifact k3s-airgap-images: cannot download"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("not tried again"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("attempts"), std::string::npos) << msg;  // "giving up after 5 attempts"
  EXPECT_FALSE(fs::exists(tmp / "bundle/provision.sh"));
}

TEST_F(ProvisionScriptTest, OfflineListsEveryMissingArtifact) {
  write_base();
  write_profile(
      "  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n"
      "    artifacts:\n      k3s: {sha256: " +
      std::string(64, 'b') + "}\n      k3s-airgap-images: {sha256: " + std::string(64, 'c') +
      "}\n");
  fetch::CacheOptions co;
  co.dir = tmp / "cache";
  co.offline = true;
  fetch::Cache cache(co);
  auto b = cluster::write_provision_script(tmp / "profile.yaml", cache, mirror(), tmp / "bundle");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), Errc::offline);
  const std::string& msg = b.error().message();
  EXPECT_NE(msg.find("2 input(s) are not in the cache"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kubernetes artifact k3s ("), std::string::npos) << msg;
  EXPECT_NE(msg.find("kubernetes artifact k3s-airgap-images ("), std::string::npos) << msg;
  EXPECT_EQ(server.requests(), 0);
}

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

// On a live host the script applies what it writes, in an order that
// registers the node under the site's name: host name, users and sshd
// before k3s starts; on a netplan host the interfaces go through netplan
// and systemd-networkd is never enabled. A second run applies nothing.
TEST_F(ProvisionScriptTest, LiveHostAppliesHostNameUsersSshdAndNetplanBeforeK3s) {
  make_bundle(kUsersAndNetwork);
  write_host_stubs();
  fs::path root = tmp / "root";
  tmp.write("root/etc/netplan/50-cloud-init.yaml",
            "network:\n  version: 2\n  ethernets:\n    ens3: {dhcp4: true}\n");
  auto first = run_live(root);
  ASSERT_EQ(first.status, 0) << first.out;
  std::string log = host_log();
  auto at = [&](const std::string& line) { return log.find(line + "\n"); };
  const auto npos = std::string::npos;
  ASSERT_NE(at("hostnamectl set-hostname edge-1"), npos) << log;
  ASSERT_NE(at("systemd-sysusers "), npos) << log;
  ASSERT_NE(at("systemctl try-reload-or-restart ssh.service"), npos) << log;
  ASSERT_NE(at("netplan generate"), npos) << log;
  ASSERT_NE(at("netplan apply"), npos) << log;
  ASSERT_NE(at("systemctl start k3s.service"), npos) << log;
  EXPECT_LT(at("hostnamectl set-hostname edge-1"), at("systemctl start k3s.service")) << log;
  EXPECT_LT(at("systemd-sysusers "), at("systemctl start k3s.service")) << log;
  EXPECT_LT(at("netplan generate"), at("netplan apply")) << log;
  EXPECT_LT(at("netplan apply"), at("systemctl start k3s.service")) << log;
  EXPECT_EQ(log.find("systemd-networkd"), npos) << log;
  EXPECT_FALSE(fs::exists(root / "etc/systemd/network"));
  EXPECT_FALSE(fs::exists(root / "etc/systemd/system/multi-user.target.wants/"
                                 "systemd-networkd.service"));
  std::string netplan =
      run_command("cat " + (root / "etc/netplan/90-edgeforge-site.yaml").string()).out;
  EXPECT_NE(netplan.find("name: \"en*\""), npos) << netplan;
  EXPECT_NE(netplan.find("dhcp4: true"), npos) << netplan;
  EXPECT_EQ(run_command("stat -c %a " + (root / "etc/netplan/90-edgeforge-site.yaml").string()).out,
            "600\n");
  // The node registers under the site's name whatever the host is called.
  EXPECT_NE(run_command("cat " + (root / "etc/rancher/k3s/config.yaml").string())
                .out.find("node-name: edge-1"),
            npos);

  fs::remove(tmp / "host.log");
  auto second = run_live(root);
  ASSERT_EQ(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("edgeforge provision: 0 change(s)"), npos) << second.out;
  log = host_log();
  for (const char* applied : {"hostnamectl", "systemd-sysusers", "reload", "netplan", "start "})
    EXPECT_EQ(log.find(applied), npos) << applied << " was applied again:\n" << log;
}

// NetworkManager keeps the network: no netplan file, no networkd, a warning.
TEST_F(ProvisionScriptTest, LiveHostLeavesNetworkManagerAlone) {
  make_bundle(kUsersAndNetwork);
  write_host_stubs();
  fs::path root = tmp / "root";
  tmp.write("root/etc/netplan/01-network-manager-all.yaml",
            "network:\n  version: 2\n  renderer: NetworkManager\n");
  auto out = run_live(root);
  ASSERT_EQ(out.status, 0) << out.out;
  EXPECT_NE(out.out.find("warning: NetworkManager manages the network here"), std::string::npos)
      << out.out;
  std::string log = host_log();
  EXPECT_EQ(log.find("netplan"), std::string::npos) << log;
  EXPECT_EQ(log.find("networkd"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(root / "etc/netplan/90-edgeforge-site.yaml"));
  EXPECT_FALSE(fs::exists(root / "etc/systemd/network"));
}

// Under EF_ROOT (without EF_APPLY) nothing touches the running system; a
// root that no network manager claims gets the systemd-networkd files.
TEST_F(ProvisionScriptTest, InstallUnderRootRunsNoHostCommand) {
  make_bundle(kUsersAndNetwork);
  write_host_stubs();
  fs::path root = tmp / "root";
  fs::create_directories(root);
  auto out = run_command("PATH=" + (tmp / "stubs").string() + ":$PATH EF_ROOT=" + root.string() +
                         " sh " + bundle.script.string() + " 2>&1");
  ASSERT_EQ(out.status, 0) << out.out;
  EXPECT_FALSE(fs::exists(tmp / "host.log")) << host_log();
  EXPECT_TRUE(fs::is_symlink(root / "etc/systemd/system/multi-user.target.wants/"
                                    "systemd-networkd.service"));
  EXPECT_TRUE(fs::exists(root / "etc/sysusers.d/edgeforge-site.conf"));
}

TEST_F(ProvisionScriptTest, FullSiteScriptPassesShellcheck) {
  make_bundle(kUsersAndNetwork);
  if (!have_tool("shellcheck")) GTEST_SKIP() << "shellcheck is not installed";
  auto out = run_command("shellcheck -s sh " + bundle.script.string() + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
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
