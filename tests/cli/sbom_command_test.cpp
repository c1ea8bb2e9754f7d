// The SBOM and provenance as a user meets them: written beside the image by
// `build`, signed into the bundle, printed by `inspect --sbom`, carried by a
// later `bundle`; checked against dpkg-query, unsquashfs and sha256sum, and
// by the schema oracle of tests/sbom/schema.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/cli/cli_fixture.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kDep5 =
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
    "Files: *\nCopyright: 2024 Example\nLicense: LGPL-2.1+ or MIT\n\n"
    "Files: debian/*\nLicense: public-domain\n";

class SbomCommandTest : public CliTest {
 protected:
  void SetUp() override {
    write_tar(tmp / "rootfs.tar",
              {TarEntry::dir("etc"), TarEntry::dir("usr/lib"),
               TarEntry::file("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
               TarEntry::symlink("etc/os-release", "../usr/lib/os-release"),
               TarEntry::file("usr/bin/sh", "#!sh", 0755),
               TarEntry::file("usr/share/doc/libfoo1/copyright", kDep5),
               TarEntry::symlink("usr/share/doc/libfoo-bin", "libfoo1"),
               TarEntry::file("usr/share/doc/base-files/copyright", "Free-form text.\n"),
               TarEntry::file("var/lib/dpkg/status",
                              "Package: base-files\nStatus: install ok installed\n"
                              "Architecture: amd64\nVersion: 12.4+deb12u5\n\n"
                              "Package: libfoo1\nStatus: install ok installed\n"
                              "Architecture: amd64\nSource: foo (1.2-1)\nVersion: 1.2-1+b1\n\n"
                              "Package: libfoo-bin\nStatus: install ok installed\n"
                              "Architecture: amd64\nSource: foo\nVersion: 1:1.2-1\n\n"
                              "Package: gone\nStatus: deinstall ok config-files\n"
                              "Architecture: amd64\nVersion: 1\n\n")});
    tmp.write("site/etc/site.conf", "store=42\n");
    tmp.write(
        "profile.yaml",
        "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: edge\n"
        "  version: 1.2.3\n  epoch: 1700000000\nspec:\n  base:\n    tarball: {path: rootfs.tar}\n"
        "  layers:\n    - directory: {path: site}\n"
        "    - files:\n        - {path: /etc/motd, content: \"hello\\n\"}\n");
    ASSERT_EQ(edgeforge("keygen --out keys").status, 0) << last_stderr();
    fs::create_directories(tmp / "ring");
    fs::copy_file(tmp / "keys/signing.pub", tmp / "ring/release.pub");
  }

  json read_json(const fs::path& p) {
    auto text = read_file(p);
    EXPECT_TRUE(text) << p;
    return text ? json::parse(*text) : json();
  }

  std::string oracle(const fs::path& doc) {
    auto r = run_command("node " + std::string(EF_SOURCE_DIR) + "/tests/sbom/schema/validate.js " +
                         doc.string() + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.out;
    return r.out;
  }
};

TEST_F(SbomCommandTest, BuildWritesAnSbomThatMatchesDpkgQueryAndTheImagesFiles) {
  auto r = edgeforge("build -p profile.yaml -o out -q --sign-key keys/signing.key");
  ASSERT_EQ(r.status, 0) << last_stderr();
  json sbom = read_json(tmp / "out/edge-1.2.3.spdx.json");
  json manifest = read_json(tmp / "out/edge-1.2.3.manifest.json");
  EXPECT_EQ(manifest["sbom"]["sha256"], *sha256_file(tmp / "out/edge-1.2.3.spdx.json"));
  EXPECT_EQ(manifest["sbom"]["format"], "spdx-2.3");
  oracle(tmp / "out/edge-1.2.3.spdx.json");

  // The package list is what dpkg-query says about the image's own status file.
  ASSERT_EQ(run_command("unsquashfs -q -n -d " + (tmp / "x").string() + " " +
                        (tmp / "out/edge-1.2.3.squashfs").string())
                .status,
            0);
  // (dpkg-query -W also lists removed packages whose conffiles remain:
  // those have no files in the image and are no part of it.)
  auto q = run_command("dpkg-query --admindir=" + (tmp / "x/var/lib/dpkg").string() +
                       " -W -f='${db:Status-Status} ${Package} ${Version} ${Architecture}\\n' "
                       "2>/dev/null | grep -v '^config-files ' | cut -d' ' -f2- | sort");
  std::set<std::string> from_sbom;
  std::map<std::string, json> by_name;
  for (const auto& p : sbom["packages"]) {
    if (p["SPDXID"].get<std::string>().rfind("SPDXRef-deb-", 0) != 0) continue;
    std::string purl = p["externalRefs"][0]["referenceLocator"];
    std::string arch = purl.substr(purl.find("arch=") + 5, 5);
    from_sbom.insert(p["name"].get<std::string>() + " " + p["versionInfo"].get<std::string>() +
                     " " + arch);
    by_name[p["name"]] = p;
  }
  std::string joined;
  for (const auto& s : from_sbom) joined += s + "\n";
  EXPECT_EQ(joined, q.out);
  EXPECT_EQ(from_sbom.size(), 3u);
  // Licences from the DEP-5 file, also through a doc directory symlink;
  // a free-form file states none.
  EXPECT_EQ(by_name["libfoo1"]["licenseDeclared"],
            "(LGPL-2.1-or-later OR MIT) AND LicenseRef-public-domain");
  EXPECT_EQ(by_name["libfoo-bin"]["licenseDeclared"], by_name["libfoo1"]["licenseDeclared"]);
  EXPECT_EQ(by_name["base-files"]["licenseDeclared"], "NOASSERTION");
  EXPECT_EQ(by_name["libfoo1"]["sourceInfo"], "built package from: foo 1.2-1");
  EXPECT_EQ(by_name["libfoo-bin"]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libfoo-bin@1%3A1.2-1?arch=amd64&distro=debian-12&upstream=foo");

  // The files the layers added, each with the sha256 sha256sum gives.
  std::map<std::string, std::string> files;
  for (const auto& f : sbom["files"])
    for (const auto& c : f["checksums"])
      if (c["algorithm"] == "SHA256") files[f["fileName"]] = c["checksumValue"];
  ASSERT_TRUE(files.count("./etc/site.conf")) << sbom["files"].dump();
  ASSERT_TRUE(files.count("./etc/motd"));
  EXPECT_FALSE(files.count("./usr/bin/sh"));  // the base's own files are its packages'
  for (const auto& [name, digest] : files) {
    auto sum = run_command("sha256sum " + (tmp / "x" / name).string() + " | cut -c1-64");
    EXPECT_EQ(sum.out, digest + "\n") << name;
  }

  // Provenance: the outputs and the inputs, with their digests.
  json prov = read_json(tmp / "out/edge-1.2.3.provenance.json");
  EXPECT_EQ(manifest["provenance"]["sha256"], *sha256_file(tmp / "out/edge-1.2.3.provenance.json"));
  std::map<std::string, std::string> subjects;
  for (const auto& s : prov["subject"]) subjects[s["name"]] = s["digest"]["sha256"];
  EXPECT_EQ(subjects["edge-1.2.3.squashfs"], *sha256_file(tmp / "out/edge-1.2.3.squashfs"));
  EXPECT_EQ(subjects["edge-1.2.3.spdx.json"], manifest["sbom"]["sha256"]);
  const json& build = prov["predicate"]["buildDefinition"];
  EXPECT_EQ(build["externalParameters"]["profile"]["digest"]["sha256"],
            manifest["profile"]["digest"]);
  bool base_named = false;
  for (const auto& d : build["resolvedDependencies"])
    base_named |= d.value("uri", "") == "file:rootfs.tar" &&
                  d["digest"]["sha256"] == *sha256_file(tmp / "rootfs.tar");
  EXPECT_TRUE(base_named) << build["resolvedDependencies"].dump();

  // Both are in the signed bundle: inspect prints them byte for byte.
  auto printed = edgeforge("inspect out/edge-1.2.3.efb --sbom --keyring ring");
  ASSERT_EQ(printed.status, 0) << last_stderr();
  EXPECT_EQ(printed.out, *read_file(tmp / "out/edge-1.2.3.spdx.json"));
  printed = edgeforge("inspect out/edge-1.2.3.efb --provenance --keyring ring");
  EXPECT_EQ(printed.out, *read_file(tmp / "out/edge-1.2.3.provenance.json"));
  auto listing = edgeforge("inspect out/edge-1.2.3.efb --json");
  json att = json::parse(listing.out)["manifest"]["attachments"];
  ASSERT_EQ(att.size(), 2u);
  EXPECT_EQ(att[0]["sha256"], manifest["sbom"]["sha256"]);
  EXPECT_EQ(att[0]["mediaType"], "application/spdx+json");

  // verify checks the documents too: one flipped SBOM byte fails it.
  EXPECT_EQ(edgeforge("verify out/edge-1.2.3.efb --keyring ring -q").status, 0) << last_stderr();
  std::string bundle = *read_file(tmp / "out/edge-1.2.3.efb");
  json head = json::parse(listing.out)["header"];
  size_t sbom_at = head["payloadOffset"].get<size_t>() + head["payloadSize"].get<size_t>();
  bundle[sbom_at + 10] ^= 1;
  ASSERT_TRUE(write_file_atomic(tmp / "flipped.efb", bundle));
  EXPECT_EQ(edgeforge("verify flipped.efb --keyring ring").status, 1);
  EXPECT_NE(last_stderr().find("attachment edge-1.2.3.spdx.json at offset " +
                               std::to_string(sbom_at) + " has sha256"),
            std::string::npos)
      << last_stderr();

  // Same inputs, same bytes.
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out2 -q --sign-key keys/signing.key").status, 0);
  for (const char* f : {"edge-1.2.3.spdx.json", "edge-1.2.3.provenance.json", "edge-1.2.3.efb"})
    EXPECT_EQ(*sha256_file(tmp / "out" / f), *sha256_file(tmp / "out2" / f)) << f;
}

// Tar member names are bytes, not always UTF-8 (here Latin-1); JSON must be
// UTF-8. The build writes such a byte as U+FFFD instead of aborting in the
// JSON writer, and the image keeps the name as it was.
TEST_F(SbomCommandTest, ANameThatIsNotUtf8DoesNotStopTheBuild) {
  write_tar(tmp / "latin1.tar", {TarEntry::dir("etc"), TarEntry::file("etc/caf\xe9", "x")});
  tmp.write("latin1.yaml",
            "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  name: edge\n"
            "  version: 1.2.3\nspec:\n  base:\n    tarball: {path: rootfs.tar}\n"
            "  layers:\n    - tarball: {path: latin1.tar}\n");
  ASSERT_EQ(edgeforge("build -p latin1.yaml -o out -q").status, 0) << last_stderr();
  EXPECT_NE(read_file(tmp / "out/edge-1.2.3.spdx.json")->find("etc/caf\xef\xbf\xbd\""),
            std::string::npos);
  auto listed = run_command("unsquashfs -l -d r " + (tmp / "out/edge-1.2.3.squashfs").string());
  EXPECT_NE(listed.out.find("r/etc/caf\xe9\n"), std::string::npos) << listed.out;
}

TEST_F(SbomCommandTest, CycloneDxOnRequestAndALaterBundleCarriesTheDocuments) {
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q --sbom-format cyclonedx").status, 0)
      << last_stderr();
  EXPECT_FALSE(fs::exists(tmp / "out/edge-1.2.3.spdx.json"));
  auto out = oracle(tmp / "out/edge-1.2.3.cdx.json");
  EXPECT_NE(out.find("CycloneDX 1.5, schema bom-1.5"), std::string::npos) << out;

  // `edgeforge bundle` later takes the documents from beside the image.
  ASSERT_EQ(edgeforge("bundle --image out/edge-1.2.3.squashfs --key keys/signing.key").status, 0)
      << last_stderr();
  auto printed = edgeforge("inspect out/edge-1.2.3.efb --sbom --keyring ring");
  EXPECT_EQ(printed.out, *read_file(tmp / "out/edge-1.2.3.cdx.json"));
  json att =
      json::parse(edgeforge("inspect out/edge-1.2.3.efb --json").out)["manifest"]["attachments"];
  EXPECT_EQ(att[0]["mediaType"], "application/vnd.cyclonedx+json");

  // An SBOM edited since the build is not this image's: refused, no bundle.
  ASSERT_TRUE(write_file_atomic(tmp / "out/edge-1.2.3.cdx.json", "{}\n"));
  auto r = edgeforge("bundle --image out/edge-1.2.3.squashfs --key keys/signing.key -o b2.efb");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(last_stderr().find("edge-1.2.3.cdx.json has sha256"), std::string::npos)
      << last_stderr();
  EXPECT_NE(last_stderr().find("not the document of this build"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "b2.efb"));
  fs::remove(tmp / "out/edge-1.2.3.cdx.json");
  r = edgeforge("bundle --image out/edge-1.2.3.squashfs --key keys/signing.key -o b2.efb");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(last_stderr().find("and it is not there (copy it beside the image)"), std::string::npos)
      << last_stderr();
}

TEST_F(SbomCommandTest, InspectSbomErrorsAreOneLine) {
  ASSERT_EQ(edgeforge("build -p profile.yaml -o out -q").status, 0) << last_stderr();
  auto r = edgeforge("inspect out/edge-1.2.3.squashfs --sbom");
  EXPECT_EQ(r.status, 1) << last_stderr();
  EXPECT_NE(last_stderr().find("--sbom reads bundles (.efb)"), std::string::npos) << last_stderr();
  // A bundle made without the build manifest carries no documents.
  fs::rename(tmp / "out/edge-1.2.3.manifest.json", tmp / "elsewhere.json");
  ASSERT_EQ(edgeforge("bundle --image out/edge-1.2.3.squashfs --key keys/signing.key "
                      "--product edge --version 1.2.3")
                .status,
            0)
      << last_stderr();
  r = edgeforge("inspect out/edge-1.2.3.efb --sbom");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(last_stderr().find("the bundle carries no sbom"), std::string::npos) << last_stderr();
  EXPECT_EQ(edgeforge("inspect out/edge-1.2.3.efb --sbom --provenance").status, 2);
}

}  // namespace
}  // namespace ef::test
