// site.yaml: parsing, rendering, baking into images, and keeping secrets out
// of logs and manifests.
#include "device/site.hpp"

#include <filesystem>

#include "tests/cluster/cluster_fixture.hpp"
#include "tests/support/command.hpp"

namespace ef::test {
namespace {

const std::string kSite = R"(apiVersion: edgeforge.dev/v1alpha1
kind: Site
hostname: store-042.example.com
users:
  - name: ops
    groups: [sudo]
    passwordHash: "$6$saltsalt$SECRETHASHVALUE"
    sshAuthorizedKeys: ["ssh-ed25519 AAAAC3Nza ops@laptop"]
network:
  interfaces:
    - {name: eth0, dhcp: true}
    - name: eth1
      addresses: [192.168.10.5/24]
      gateway: 192.168.10.1
      dns: [192.168.10.1]
ntp: [ntp1.example.com, ntp2.example.com]
caCertificates:
  - |
    -----BEGIN CERTIFICATE-----
    MIIBfake
    -----END CERTIFICATE-----
proxy: {http: "http://proxy:3128", https: "http://proxy:3128", noProxy: "localhost,10.0.0.0/8"}
registries:
  mirrors:
    docker.io: ["https://mirror.example.com:5000"]
  auth:
    mirror.example.com:5000: {username: puller, password: REGISTRYPASSWORD}
registration: {endpoint: "https://fleet.example.com", token: REGISTRATIONTOKEN}
tags: {store: "42", region: eu-west}
)";

const char* kSecrets[] = {"SECRETHASHVALUE", "REGISTRYPASSWORD", "REGISTRATIONTOKEN"};

const site::SiteFile* find(const std::vector<site::SiteFile>& files, const std::string& path) {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

TEST(SiteRenderTest, RendersNetworkdHostsUsersAndRegistries) {
  auto s = site::parse_site(kSite, "site.yaml");
  ASSERT_TRUE(s) << s.error().message();
  auto files = site::render_site(*s, site::RegistryTarget::k3s);
  ASSERT_TRUE(find(files, "/etc/hostname"));
  EXPECT_EQ(find(files, "/etc/hostname")->content, "store-042.example.com\n");
  EXPECT_NE(find(files, "/etc/hosts")->content.find("127.0.1.1\tstore-042.example.com\tstore-042"),
            std::string::npos);
  auto* eth1 = find(files, "/etc/systemd/network/11-edgeforge-eth1.network");
  ASSERT_TRUE(eth1);
  EXPECT_NE(eth1->content.find("[Match]\nName=eth1\n"), std::string::npos);
  EXPECT_NE(eth1->content.find("Address=192.168.10.5/24\nGateway=192.168.10.1\nDNS=192.168.10.1\n"),
            std::string::npos);
  EXPECT_NE(find(files, "/etc/systemd/network/10-edgeforge-eth0.network")->content.find("DHCP=yes"),
            std::string::npos);
  EXPECT_NE(find(files, "/etc/sysusers.d/edgeforge-site.conf")->content.find("m ops sudo"),
            std::string::npos);
  EXPECT_EQ(find(files, "/etc/ssh/authorized_keys/ops")->content,
            "ssh-ed25519 AAAAC3Nza ops@laptop\n");
  auto* pw = find(files, "/etc/edgeforge/site/passwords");
  ASSERT_TRUE(pw);
  EXPECT_TRUE(pw->secret);
  EXPECT_EQ(pw->mode, 0600u);
  auto* reg = find(files, "/etc/rancher/k3s/registries.yaml");
  ASSERT_TRUE(reg);
  EXPECT_TRUE(reg->secret);
  EXPECT_NE(reg->content.find(
                "\"docker.io\":\n    endpoint:\n      - \"https://mirror.example.com:5000\""),
            std::string::npos)
      << reg->content;
  EXPECT_NE(reg->content.find("password: \"REGISTRYPASSWORD\""), std::string::npos);
  EXPECT_NE(find(files, "/etc/systemd/timesyncd.conf.d/edgeforge-site.conf")
                ->content.find("NTP=ntp1.example.com ntp2.example.com"),
            std::string::npos);
  EXPECT_TRUE(find(files, "/usr/local/share/ca-certificates/edgeforge-site-0.crt"));
  EXPECT_NE(find(files, "/etc/systemd/system.conf.d/edgeforge-proxy.conf")
                ->content.find("HTTPS_PROXY=http://proxy:3128"),
            std::string::npos);
  EXPECT_TRUE(find(files, "/etc/edgeforge/registration.yaml")->secret);
  // The registration file is a site file of its own: the agent reads it back.
  auto back = site::parse_site(find(files, "/etc/edgeforge/registration.yaml")->content, "r");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->registration_endpoint, "https://fleet.example.com");
  EXPECT_EQ(back->registration_token, "REGISTRATIONTOKEN");
  EXPECT_EQ(back->registration_device_id, "machine-id");

  auto containerd = site::render_site(*s, site::RegistryTarget::containerd);
  auto* hosts = find(containerd, "/etc/containerd/certs.d/docker.io/hosts.toml");
  ASSERT_TRUE(hosts);
  EXPECT_NE(hosts->content.find("server = \"https://registry-1.docker.io\""), std::string::npos);
  EXPECT_NE(hosts->content.find("[host.\"https://mirror.example.com:5000\"]"), std::string::npos);
  EXPECT_NE(hosts->content.find("authorization = \"Basic cHVsbGVyOlJFR0lTVFJZUEFTU1dPUkQ=\""),
            std::string::npos)
      << hosts->content;  // base64("puller:REGISTRYPASSWORD")
  EXPECT_TRUE(hosts->secret);
}

TEST(SiteRenderTest, ErrorsNameTheKeyButNeverTheSecret) {
  auto s =
      site::parse_site("users:\n  - name: ops\n    passwordHash: plaintextSECRET\n", "site.yaml");
  ASSERT_FALSE(s);
  EXPECT_NE(
      s.error().message().find("site.yaml:3:19: users[0].passwordHash: expected a crypt(3) hash"),
      std::string::npos)
      << s.error().message();
  EXPECT_EQ(s.error().message().find("plaintextSECRET"), std::string::npos);
  s = site::parse_site("hostnme: x\n", "site.yaml");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("hostnme: unknown key"), std::string::npos)
      << s.error().message();
  s = site::parse_site("network:\n  interfaces:\n    - {name: eth0}\n", "site.yaml");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("set dhcp: true or give addresses"), std::string::npos);
}

class SiteBuildTest : public ClusterTest {};

TEST_F(SiteBuildTest, BakedSiteIsInTheImageButSecretsAreNotInLogsOrManifest) {
  write_base();
  std::string url = "https://github.com/k3s-io/k3s/releases/download/v1.30.4+k3s1/k3s";
  std::string sha = serve(url, "k3s");
  tmp.write("site.yaml", kSite);
  write_profile(
      "  site: site.yaml\n  kubernetes:\n    distribution: k3s\n    version: v1.30.4+k3s1\n"
      "    artifacts:\n      k3s: {sha256: " +
      sha + "}\n");
  // The real CLI, verbose, JSON summary: everything a CI log would keep.
  auto out = run_command("cd " + tmp.path().string() + " && " + EF_EDGEFORGE_BIN +
                         " -v build -p profile.yaml -o out --cache-dir cache --artifact-mirror " +
                         mirror() + " --json 2>&1");
  ASSERT_EQ(out.status, 0) << out.out;
  auto manifest = run_command("cat " + (tmp / "out/node-1.0.0.manifest.json").string()).out;
  ASSERT_FALSE(manifest.empty());
  for (const char* secret : kSecrets) {
    EXPECT_EQ(out.out.find(secret), std::string::npos) << secret << " in log:\n" << out.out;
    EXPECT_EQ(manifest.find(secret), std::string::npos) << secret << " in manifest";
  }
  EXPECT_NE(manifest.find("\"hostname\": \"store-042.example.com\""), std::string::npos);

  auto reader = image::ImageReader::open(tmp / "out/node-1.0.0.squashfs");
  ASSERT_TRUE(reader);
  image = std::move(*reader);
  auto list = image->list();
  ASSERT_TRUE(list);
  for (auto& e : *list) entries[e.path] = e;
  EXPECT_EQ(content("/etc/hostname"), "store-042.example.com\n");
  EXPECT_EQ(at("/etc/rancher/k3s/registries.yaml").mode, 0600u);
  EXPECT_NE(content("/etc/rancher/k3s/registries.yaml").find("REGISTRYPASSWORD"),
            std::string::npos);
  EXPECT_EQ(at("/etc/systemd/system/multi-user.target.wants/systemd-networkd.service").target,
            "/lib/systemd/system/systemd-networkd.service");
  EXPECT_EQ(at("/etc/edgeforge/registration.yaml").mode, 0600u);
}

}  // namespace
}  // namespace ef::test

namespace ef::test {
namespace {

TEST(RenderSiteCommandTest, WritesFilesUnderRootWithoutPrintingSecrets) {
  TempDir tmp;
  tmp.write("site.yaml", kSite);
  auto out = run_command(std::string(EF_EDGEFORGE_BIN) + " render-site --site " +
                         (tmp / "site.yaml").string() + " --root " + (tmp / "root").string() +
                         " --distribution kubeadm 2>&1");
  ASSERT_EQ(out.status, 0) << out.out;
  EXPECT_NE(out.out.find("/etc/containerd/certs.d/docker.io/hosts.toml"), std::string::npos);
  for (const char* secret : kSecrets) EXPECT_EQ(out.out.find(secret), std::string::npos) << secret;
  EXPECT_EQ(run_command("cat " + (tmp / "root/etc/hostname").string()).out,
            "store-042.example.com\n");
  EXPECT_EQ(run_command("stat -c %a " + (tmp / "root/etc/edgeforge/site/passwords").string()).out,
            "600\n");
  EXPECT_EQ(run_command("stat -c %a " +
                        (tmp / "root/etc/containerd/certs.d/docker.io/hosts.toml").string())
                .out,
            "600\n");
}

TEST(SiteInstallSectionTest, ParsesUnattendedInstallAndRejectsBadValues) {
  auto s = site::parse_site(
      "hostname: a\ninstall: {unattended: true, target: /dev/vda, wipe: true, then: poweroff}\n",
      "s.yaml");
  ASSERT_TRUE(s.ok()) << s.error().message();
  ASSERT_TRUE(s->install.has_value());
  EXPECT_TRUE(s->install->unattended);
  EXPECT_EQ(s->install->target, "/dev/vda");
  EXPECT_TRUE(s->install->wipe);
  EXPECT_EQ(s->install->then, "poweroff");
  auto defaults = site::parse_site("install: {unattended: true, target: auto}\n", "s.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  EXPECT_FALSE(defaults->install->wipe);
  EXPECT_EQ(defaults->install->then, "reboot");
  EXPECT_FALSE(site::parse_site("hostname: a\n", "s.yaml")->install.has_value());
  for (auto [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"install: {unattended: true}\n",
            "s.yaml:1:10: install.target: an unattended install needs a target"},
           {"install: {target: sda}\n",
            "install.target: expected a device path (/dev/...) or auto"},
           {"install: {target: auto, then: halt}\n",
            "install.then: expected reboot, poweroff or none"},
           {"install: {target: auto, wipe: yes}\n", "install.wipe: expected true or false"},
           {"install: {targte: auto}\n", "install.targte: unknown key"}}) {
    auto r = site::parse_site(text, "s.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
  }
}

TEST(SiteInstallSectionTest, InstallSectionRendersNoFiles) {
  auto with =
      site::parse_site("hostname: a\ninstall: {unattended: true, target: auto}\n", "s.yaml");
  auto without = site::parse_site("hostname: a\n", "s.yaml");
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_EQ(site::render_site(*with, site::RegistryTarget::none).size(),
            site::render_site(*without, site::RegistryTarget::none).size());
}

}  // namespace
}  // namespace ef::test
