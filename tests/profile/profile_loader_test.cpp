// Profiles that load: the documented example, defaults, value forms and the
// message helpers of the model.
#include "builder/profile/profile_loader.hpp"

#include <gtest/gtest.h>

#include "tests/profile/profile_fixture.hpp"

namespace ef::profile {
namespace {

namespace fs = std::filesystem;

// The example from docs/profile-schema.md, in profiles/ next to system/.
constexpr std::string_view kStoreEdge = R"(apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata:
  name: store-edge
  version: 1.4.0
  epoch: 1700000000
spec:
  extends: [../system/base.yaml]
  base:
    tarball: {path: rootfs.tar.gz}
  layers:
    - tarball: {path: extra.tar.zst}
    - directory: {path: ../overlays/site}
    - oci: {path: some-oci-dir, ref: latest}
    - files:
        - {path: /etc/motd, content: "hello\n", mode: "0644"}
        - {path: /usr/local/bin/tool, source: tool.bin, mode: "0755", uid: 0, gid: 0}
  output:
    compression: zstd
    level: 15
    blockSize: 131072
)";

constexpr std::string_view kSystemBase = R"(apiVersion: edgeforge.dev/v1alpha1
kind: Profile
spec:
  layers:
    - files:
        - {path: /etc/hostname, content: "edge\n"}
)";

class StoreEdgeTest : public ProfileTest {
 protected:
  void SetUp() override {
    tmp.write("system/base.yaml", kSystemBase);
    tmp.write("profiles/rootfs.tar.gz", "gz");
    tmp.write("profiles/extra.tar.zst", "zst");
    tmp.write("profiles/tool.bin", "#!/bin/sh\n");
    tmp.write("profiles/some-oci-dir/index.json", "{}");
    tmp.write("overlays/site/etc/site.conf", "x");
  }
};

TEST_F(StoreEdgeTest, FullExampleLoads) {
  auto r = load("profiles/store-edge.yaml", kStoreEdge);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Profile& p = *r;
  EXPECT_EQ(p.file, tmp / "profiles/store-edge.yaml");
  EXPECT_EQ(p.name, "store-edge");
  EXPECT_EQ(p.version, "1.4.0");
  EXPECT_EQ(p.epoch, 1700000000);

  EXPECT_EQ(p.base.kind, Base::Kind::tarball);
  EXPECT_EQ(p.base.tarball.path, tmp / "profiles/rootfs.tar.gz");
  EXPECT_TRUE(p.base.tarball.path.is_absolute());
  EXPECT_FALSE(p.base.tarball.is_remote());

  // The extended profile's layer comes first.
  ASSERT_EQ(p.layers.size(), 5u);
  EXPECT_EQ(p.layers[0].kind, Layer::Kind::files);
  EXPECT_EQ(p.layers[0].files.at(0).path, "/etc/hostname");
  EXPECT_EQ(p.layers[1].kind, Layer::Kind::tarball);
  EXPECT_EQ(p.layers[1].tarball.path, tmp / "profiles/extra.tar.zst");
  EXPECT_EQ(p.layers[2].kind, Layer::Kind::directory);
  EXPECT_EQ(p.layers[2].directory, tmp / "overlays/site");
  EXPECT_FALSE(p.layers[2].uid.has_value());
  EXPECT_FALSE(p.layers[2].gid.has_value());
  EXPECT_EQ(p.layers[3].kind, Layer::Kind::oci);
  EXPECT_EQ(p.layers[3].oci.source.path, tmp / "profiles/some-oci-dir");
  EXPECT_EQ(p.layers[3].oci.ref, "latest");

  const Layer& files = p.layers[4];
  ASSERT_EQ(files.kind, Layer::Kind::files);
  ASSERT_EQ(files.files.size(), 2u);
  EXPECT_EQ(files.files[0].path, "/etc/motd");
  EXPECT_EQ(files.files[0].content, "hello\n");
  EXPECT_EQ(files.files[0].mode, 0644u);
  EXPECT_EQ(files.files[1].path, "/usr/local/bin/tool");
  EXPECT_FALSE(files.files[1].content.has_value());
  EXPECT_EQ(files.files[1].source, tmp / "profiles/tool.bin");
  EXPECT_EQ(files.files[1].mode, 0755u);
  EXPECT_EQ(files.loc.str(), at("profiles/store-edge.yaml", 15, 7));

  EXPECT_EQ(p.output.compression, "zstd");
  EXPECT_EQ(p.output.level, 15);
  EXPECT_EQ(p.output.block_size, 131072u);

  ASSERT_EQ(p.sources.size(), 2u);
  EXPECT_EQ(p.sources[0], tmp / "system/base.yaml");
  EXPECT_EQ(p.sources[1], tmp / "profiles/store-edge.yaml");
  EXPECT_EQ(p.digest.size(), 64u);
}

TEST_F(StoreEdgeTest, RelativeCommandLinePathBecomesAbsolute) {
  tmp.write("profiles/store-edge.yaml", kStoreEdge);
  auto old = fs::current_path();
  fs::current_path(tmp.path());
  auto r = load_profile("profiles/./store-edge.yaml");
  fs::current_path(old);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->file, tmp / "profiles/store-edge.yaml");
  EXPECT_EQ(r->base.tarball.path, tmp / "profiles/rootfs.tar.gz");
}

TEST_F(ProfileTest, DefaultsWhenKeysAreLeftOut) {
  tmp.write("site/a", "");
  auto r = load_with_base(
      "  layers:\n"
      "    - directory: {path: site, uid: 1000, gid: 100}\n"
      "    - files:\n"
      "        - {path: /etc//issue, content: \"\"}\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->epoch.has_value());
  EXPECT_EQ(r->output.compression, "zstd");
  EXPECT_FALSE(r->output.level.has_value());
  EXPECT_EQ(r->output.block_size, 131072u);
  EXPECT_EQ(r->layers[0].uid, 1000u);
  EXPECT_EQ(r->layers[0].gid, 100u);
  const FileEntry& f = r->layers[1].files.at(0);
  EXPECT_EQ(f.path, "/etc/issue");  // normalized
  EXPECT_EQ(f.content, "");
  EXPECT_EQ(f.mode, 0644u);
  EXPECT_EQ(f.uid, 0u);
  EXPECT_EQ(f.gid, 0u);
}

TEST_F(ProfileTest, RemoteArtifactsAndMmdebstrap) {
  const std::string sha(64, 'A');
  auto r = load("demo.yaml", std::string(kHead) +
                                 "  base:\n"
                                 "    mmdebstrap:\n"
                                 "      suite: bookworm\n"
                                 "      packages: [systemd-sysv, linux-image-amd64]\n"
                                 "      components: [main, contrib]\n"
                                 "      mirror: http://deb.debian.org/debian\n"
                                 "  layers:\n"
                                 "    - tarball: {url: https://example.com/a.tar, sha256: " +
                                 sha +
                                 "}\n"
                                 "    - oci: {url: https://example.com/i.tar, sha256: " +
                                 sha + ", ref: v1}\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->base.kind, Base::Kind::mmdebstrap);
  const MmdebstrapRecipe& m = r->base.mmdebstrap;
  EXPECT_EQ(m.suite, "bookworm");
  EXPECT_EQ(m.variant, "minbase");
  EXPECT_EQ(m.architecture, "amd64");
  EXPECT_EQ(m.packages, (std::vector<std::string>{"systemd-sysv", "linux-image-amd64"}));
  EXPECT_EQ(m.components, (std::vector<std::string>{"main", "contrib"}));
  EXPECT_EQ(m.mirror, "http://deb.debian.org/debian");
  EXPECT_EQ(m.loc.str(), at("demo.yaml", 9, 7));

  const ArtifactRef& t = r->layers.at(0).tarball;
  EXPECT_TRUE(t.is_remote());
  EXPECT_EQ(t.url, "https://example.com/a.tar");
  EXPECT_EQ(t.sha256, std::string(64, 'a'));  // lower-cased
  EXPECT_TRUE(t.path.empty());
  EXPECT_EQ(r->layers.at(1).oci.source.url, "https://example.com/i.tar");
  EXPECT_EQ(r->layers.at(1).oci.ref, "v1");
}

TEST_F(ProfileTest, ModeForms) {
  tmp.write("tool", "x");
  auto r = load_with_base(
      "  layers:\n"
      "    - files:\n"
      "        - {path: /a, content: x, mode: \"4755\"}\n"
      "        - {path: /b, content: x, mode: 0600}\n"
      "        - {path: /c, source: tool, mode: 755}\n"
      "        - {path: /d, content: x, mode: \"07777\"}\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& f = r->layers.at(0).files;
  EXPECT_EQ(f.at(0).mode, 04755u);
  EXPECT_EQ(f.at(1).mode, 0600u);
  EXPECT_EQ(f.at(2).mode, 0755u);  // digits are always octal
  EXPECT_EQ(f.at(3).mode, 07777u);
}

TEST_F(ProfileTest, CompressorsAndLevels) {
  for (const char* out : {"{compression: xz, level: 0}", "{compression: gzip, level: 9}",
                          "{compression: zstd, level: 22}", "{compression: lz4}",
                          "{blockSize: 4096}", "{blockSize: 1048576}"}) {
    auto r = load_with_base(std::string("  output: ") + out + "\n");
    EXPECT_TRUE(r.ok()) << out << ": " << r.error().message();
  }
}

TEST_F(ProfileTest, SemverForms) {
  for (const char* v : {"0.0.0", "1.4.0", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-1.0",
                        "1.0.0+build.5", "1.0.0-0.3.7+exp.sha.5114f85"}) {
    auto r =
        load("v.yaml", std::string(kHead).replace(kHead.find("1.0.0"), 5, v) + std::string(kBase));
    EXPECT_TRUE(r.ok()) << v << ": " << r.error().message();
    if (r) {
      EXPECT_EQ(r->version, v);
    }
  }
}

TEST(ProfileModel, Describe) {
  EXPECT_EQ((SourceLoc{"a.yaml", 3, 5}).str(), "a.yaml:3:5");
  EXPECT_EQ((SourceLoc{"a.yaml", 0, 0}).str(), "a.yaml");

  ArtifactRef local{"/p/extra.tar.zst", "", "", {}};
  ArtifactRef remote{"", "https://x/y.tar", std::string(64, 'a'), {}};
  EXPECT_EQ(local.describe(), "/p/extra.tar.zst");
  EXPECT_EQ(remote.describe(), "https://x/y.tar");

  Layer tarball;
  tarball.kind = Layer::Kind::tarball;
  tarball.tarball = local;
  EXPECT_EQ(tarball.describe(1), "layer 2 (tarball extra.tar.zst)");
  tarball.tarball = remote;
  EXPECT_EQ(tarball.describe(0), "layer 1 (tarball https://x/y.tar)");

  Layer dir;
  dir.kind = Layer::Kind::directory;
  dir.directory = "/o/site";
  EXPECT_EQ(dir.describe(2), "layer 3 (directory site)");

  Layer oci;
  oci.kind = Layer::Kind::oci;
  oci.oci.source = local;
  oci.oci.ref = "latest";
  EXPECT_EQ(oci.describe(3), "layer 4 (oci extra.tar.zst, ref latest)");

  Layer files;
  files.kind = Layer::Kind::files;
  files.files.resize(2);
  EXPECT_EQ(files.describe(4), "layer 5 (2 files)");
}

}  // namespace
}  // namespace ef::profile

namespace ef::profile {
namespace {

TEST_F(ProfileTest, DiskOutputFormatsSizesAndPersistentPaths) {
  auto d = load_with_base("");
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->output.formats, std::vector<std::string>{"squashfs"});
  EXPECT_EQ(d->output.slot_mib, 2048u);
  auto r = load_with_base(
      "  output:\n"
      "    formats: [squashfs, raw, qcow2]\n"
      "    disk: {espSize: 128, slotSize: 512, persistentSize: 4096}\n"
      "    persistentPaths: [/var/lib/longhorn]\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->output.formats, (std::vector<std::string>{"squashfs", "raw", "qcow2"}));
  // Where the formats were set, for `build` errors about one of them.
  EXPECT_EQ(r->output.formats_loc.str(), at("demo.yaml", 10, 14));
  EXPECT_TRUE(d->output.formats_loc.file.empty());
  EXPECT_EQ(r->output.esp_mib, 128u);
  EXPECT_EQ(r->output.slot_mib, 512u);
  EXPECT_EQ(r->output.persistent_mib, 4096u);
  EXPECT_EQ(r->output.persistent_paths, std::vector<std::string>{"/var/lib/longhorn"});
  EXPECT_FALSE(load_with_base("  output:\n    formats: [vmdk]\n").ok());
  EXPECT_FALSE(load_with_base("  output:\n    disk: {slotSize: 1}\n").ok());
  EXPECT_FALSE(load_with_base("  output:\n    persistentPaths: [var/lib]\n").ok());
}

TEST_F(ProfileTest, InstallerSiteResolvesNextToTheProfile) {
  tmp.write("sites/store.yaml", "hostname: store\n");
  auto r = load_with_base("  output:\n    installerSite: sites/store.yaml\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->output.installer_site, tmp / "sites/store.yaml");
  EXPECT_TRUE(load_with_base("")->output.installer_site.empty());
  auto missing = load_with_base("  output:\n    installerSite: nope.yaml\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("site file not found: " + (tmp / "nope.yaml").string()),
            std::string::npos)
      << missing.error().message();
}

TEST_F(ProfileTest, SecureBootKeyAndCertificateResolveNextToTheProfile) {
  tmp.write("keys/db.key", "key");
  tmp.write("keys/db.crt", "cert");
  auto r = load_with_base("  secureBoot: {key: keys/db.key, certificate: keys/db.crt}\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->secure_boot.enabled());
  EXPECT_EQ(r->secure_boot.key, (tmp / "keys/db.key").string());
  EXPECT_EQ(r->secure_boot.certificate, tmp / "keys/db.crt");
  EXPECT_FALSE(load_with_base("")->secure_boot.enabled());
  // A token URI stays as written.
  auto token = load_with_base(
      "  secureBoot: {key: \"pkcs11:token=edge;object=db\", certificate: keys/db.crt}\n");
  ASSERT_TRUE(token.ok()) << token.error().message();
  EXPECT_EQ(token->secure_boot.key, "pkcs11:token=edge;object=db");
  auto no_agent = load_with_base(
      "  agent: {enabled: false}\n  secureBoot: {key: keys/db.key, certificate: keys/db.crt}\n");
  ASSERT_FALSE(no_agent.ok());
  EXPECT_NE(no_agent.error().message().find("spec.secureBoot needs the agent"), std::string::npos)
      << no_agent.error().message();
  auto half = load_with_base("  secureBoot: {key: keys/db.key}\n");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().message().find("needs both key"), std::string::npos)
      << half.error().message();
  auto missing = load_with_base("  secureBoot: {key: keys/nope.key, certificate: keys/db.crt}\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("Secure Boot key not found: " +
                                           (tmp / "keys/nope.key").string()),
            std::string::npos)
      << missing.error().message();
}

// Without a TPM a device refuses to boot unless the profile accepts an
// unencrypted persistent partition; an mmdebstrap base gets the tools the
// initramfs seals the partition with.
TEST_F(ProfileTest, SecureBootSealsThePersistentPartitionWithTheImagesTools) {
  tmp.write("keys/db.key", "key");
  tmp.write("keys/db.crt", "cert");
  const std::string sb = "  secureBoot: {key: keys/db.key, certificate: keys/db.crt";
  auto refuse = load_with_base(sb + "}\n");
  ASSERT_TRUE(refuse.ok()) << refuse.error().message();
  EXPECT_EQ(refuse->secure_boot.without_tpm, SecureBoot::WithoutTpm::refuse);
  auto plain = load_with_base(sb + ", withoutTpm: unencrypted}\n");
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(plain->secure_boot.without_tpm, SecureBoot::WithoutTpm::unencrypted);
  auto bad = load_with_base(sb + ", withoutTpm: maybe}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find(
                "spec.secureBoot.withoutTpm: expected refuse or unencrypted, got \"maybe\""),
            std::string::npos)
      << bad.error().message();

  auto debian = [&](const std::string& extra) {
    return load("sb.yaml", std::string(kHead) +
                               "  base:\n    mmdebstrap:\n      suite: bookworm\n"
                               "      packages: [systemd-sysv, libtss2-rc0]\n" +
                               extra);
  };
  auto with = debian(sb + "}\n");
  ASSERT_TRUE(with.ok()) << with.error().message();
  EXPECT_EQ(
      with->base.mmdebstrap.packages,
      (std::vector<std::string>{"systemd-sysv", "libtss2-rc0", "cryptsetup-bin",
                                "libtss2-esys-3.0.2-0", "libtss2-mu0", "libtss2-tcti-device0"}));
  auto without = debian("");
  ASSERT_TRUE(without.ok()) << without.error().message();
  EXPECT_EQ(without->base.mmdebstrap.packages,
            (std::vector<std::string>{"systemd-sysv", "libtss2-rc0"}));
}

}  // namespace
}  // namespace ef::profile
