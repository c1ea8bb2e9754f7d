// SBOM documents from facts: dpkg status and DEP-5 copyright parsing, purls,
// determinism, and both formats checked by tools edgeforge did not write
// (tests/sbom/schema/validate.js: the official CycloneDX 1.5 schema with
// ajv, spdx-expression-parse, packageurl-js).
#include "builder/sbom/sbom.hpp"

#include <gtest/gtest.h>

#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::sbom {
namespace {

namespace fs = std::filesystem;

const char* kStatus =
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: glibc\n"
    "Version: 2.36-9+deb12u10\n"
    "Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n"
    "Description: GNU C Library\n"
    " continuation line: Source: not-this\n"
    "\n"
    "Package: removed-but-configured\n"
    "Status: deinstall ok config-files\n"
    "Architecture: amd64\n"
    "Version: 1.0\n"
    "\n"
    "Package: libstdc++6\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: gcc-12 (12.2.0-14)\n"
    "Version: 12.2.0-14\n"
    "\n"
    "Package: bsdutils\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: util-linux (2.38.1-5)\n"
    "Version: 1:2.38.1-5+deb12u3\n"
    "\n"
    "Package: gone\n"
    "Status: purge ok not-installed\n"
    "\n";

TEST(DpkgStatus, ListsWhatDpkgQueryListsWithSourcePackages) {
  auto p = parse_dpkg_status(kStatus);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].name, "bsdutils");
  EXPECT_EQ(p[0].version, "1:2.38.1-5+deb12u3");
  EXPECT_EQ(p[0].source, "util-linux");
  EXPECT_EQ(p[0].source_version, "2.38.1-5");
  EXPECT_EQ(p[1].name, "libc6");
  EXPECT_EQ(p[1].source, "glibc");
  EXPECT_EQ(p[1].source_version, "2.36-9+deb12u10");
  EXPECT_EQ(p[1].maintainer, "GNU Libc Maintainers <debian-glibc@lists.debian.org>");
  EXPECT_EQ(p[2].name, "libstdc++6");
}

TEST(DpkgStatus, UnpackedAndHalfConfiguredPackagesHaveFilesOnDisk) {
  auto p = parse_dpkg_status(
      "Package: a\nStatus: install ok unpacked\nVersion: 1\nArchitecture: all\n\n"
      "Package: b\nStatus: install ok half-configured\nVersion: 1\nArchitecture: all\n\n"
      "Package: c\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: all\n\n"
      "Package: d\nStatus: purge ok not-installed\n\n");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].name, "a");
  EXPECT_EQ(p[1].name, "b");
}

TEST(Dep5, MachineReadableCopyrightFilesGiveSpdxExpressions) {
  std::string copyright =
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
      "Upstream-Name: example\n"
      "\n"
      "Files: *\n"
      "Copyright: 2020 Someone\n"
      "License: GPL-2+\n"
      "\n"
      "Files: lib/*\n"
      "License: LGPL-2.1+ or Expat\n"
      "\n"
      "Files: doc/*\n"
      "License: GPL-2+ and public-domain\n"
      "\n"
      "Files: m4/*\n"
      "License: GPL-3+ with Autoconf-data exception\n"
      "\n"
      "License: GPL-2+\n"
      " This program is free software...\n";
  auto l = dep5_license(copyright);
  ASSERT_TRUE(l);
  // Each term once, sorted; an OR keeps its parentheses.
  EXPECT_EQ(l->expression,
            "(LGPL-2.1-or-later OR MIT) AND GPL-2.0-or-later AND "
            "LicenseRef-GPL-3plus-with-Autoconf-data-exception AND LicenseRef-public-domain");
  ASSERT_EQ(l->refs.size(), 2u);
  EXPECT_EQ(l->refs.at("LicenseRef-public-domain"), "public-domain");
  // A single alternative stays without parentheses.
  auto one = dep5_license(
      "Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
      "Files: *\nLicense: Artistic or GPL-1+\n");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->expression, "Artistic-1.0 OR GPL-1.0-or-later");
  // Free-form copyright files state no machine-readable licence.
  EXPECT_FALSE(dep5_license("This is Debian's prepackaged version of foo.\n\nLicense: GPL\n"));
  EXPECT_FALSE(dep5_license(""));
}

TEST(Purl, EncodesDebianVersionsAndOciReferences) {
  OsRelease os{"debian", "12"};
  DebPackage libstdcxx{"libstdc++6", "12.2.0-14", "amd64", "gcc-12", "12.2.0-14", ""};
  EXPECT_EQ(deb_purl(os, libstdcxx),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12");
  DebPackage bsdutils{"bsdutils", "1:2.38.1-5+deb12u3", "amd64", "bsdutils", "", ""};
  EXPECT_EQ(deb_purl(os, bsdutils),
            "pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12");
  EXPECT_EQ(deb_purl(OsRelease{"ubuntu", "24.04"}, bsdutils).rfind("pkg:deb/ubuntu/", 0), 0u);
  ContainerImage img{"docker.io/edgeforge/store-hello:1.0.0", "sha256:1331", "store-hello", "", ""};
  EXPECT_EQ(oci_purl(img),
            "pkg:oci/store-hello@sha256%3A1331?repository_url=docker.io/edgeforge/"
            "store-hello&tag=1.0.0");
}

SbomFacts sample_facts() {
  SbomFacts f;
  f.product = "store-edge";
  f.version = "1.4.0";
  f.tool_version = "0.9.0";
  f.epoch = 1747699200;
  f.image_file = "store-edge-1.4.0.squashfs";
  f.image_sha256 = std::string(64, 'a');
  f.profile_digest = std::string(64, 'b');
  f.os = {"debian", "12"};
  for (auto& d : parse_dpkg_status(kStatus)) f.packages.push_back({d, std::nullopt});
  f.packages[1].license = dep5_license(
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
      "Files: *\nLicense: LGPL-2.1+ or public-domain\n\nFiles: x\nLicense: GPL-2+\n");
  f.artifacts.push_back({"k3s", "v1.32.7+k3s1",
                         "https://github.com/k3s-io/k3s/releases/download/v1.32.7%2Bk3s1/k3s",
                         std::string(64, 'c'), "/usr/local/bin/k3s"});
  f.packs.push_back({"store-hello", "1.0.0", "../packs/store-hello"});
  f.images.push_back({"docker.io/edgeforge/store-hello:1.0.0", "sha256:" + std::string(64, 'd'),
                      "store-hello", "/var/lib/rancher/k3s/agent/images/store-hello.tar",
                      std::string(64, 'e')});
  f.files.push_back({"/etc/hostname", std::string(40, '1'), std::string(64, '2')});
  f.files.push_back({"/etc/edgeforge/agent.json", std::string(40, '3'), std::string(64, '4')});
  return f;
}

// Runs the oracle on `doc`; returns its output, status in `status`.
std::string validate(const ::ef::test::TempDir& tmp, const std::string& name,
                     const nlohmann::json& doc, int& status) {
  fs::path file = tmp / name;
  EXPECT_TRUE(write_file_atomic(file, doc.dump(1) + "\n"));
  fs::path script = fs::path(EF_SOURCE_DIR) / "tests/sbom/schema/validate.js";
  auto r = ::ef::test::run_command("node " + script.string() + " " + file.string() + " 2>&1");
  status = r.status;
  return r.out;
}

class SbomOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fs::path(EF_SOURCE_DIR) / "tests/sbom/schema/node_modules/ajv"))
        << "the SBOM oracles are not installed: run scripts/install-deps.sh";
  }
  ::ef::test::TempDir tmp;
};

TEST_F(SbomOracle, CycloneDxValidatesAgainstTheOfficialSchema) {
  auto doc = cyclonedx_document(sample_facts());
  int status = 0;
  auto out = validate(tmp, "bom.cdx.json", doc, status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ok "), std::string::npos) << out;
  EXPECT_EQ(doc["metadata"]["timestamp"], "2025-05-20T00:00:00Z");
  EXPECT_EQ(doc["components"].size(), 3u + 1 + 1 + 1 + 2);
  // The oracle is not a rubber stamp: a hash algorithm the schema does not
  // know and a licence that is not SPDX fail it.
  doc["components"][0]["hashes"] = {{{"alg", "SHA256"}, {"content", std::string(64, 'f')}}};
  doc["components"][1]["licenses"] = {{{"expression", "GPL-2+"}}};
  out = validate(tmp, "bad.cdx.json", doc, status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("/components/0/hashes/0/alg"), std::string::npos) << out;
  EXPECT_NE(out.find("'GPL-2+' does not parse"), std::string::npos) << out;
}

TEST_F(SbomOracle, SpdxLicencesPurlsAndRelationshipsCheck) {
  auto doc = spdx_document(sample_facts());
  int status = 0;
  auto out = validate(tmp, "bom.spdx.json", doc, status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(doc["spdxVersion"], "SPDX-2.3");
  EXPECT_EQ(doc["creationInfo"]["created"], "2025-05-20T00:00:00Z");
  // Every LicenseRef used is declared; files carry SHA1 and SHA256.
  ASSERT_EQ(doc["hasExtractedLicensingInfos"].size(), 1u);
  EXPECT_EQ(doc["hasExtractedLicensingInfos"][0]["licenseId"], "LicenseRef-public-domain");
  EXPECT_EQ(doc["files"][0]["fileName"], "./etc/hostname");
  EXPECT_EQ(doc["files"][0]["checksums"].size(), 2u);
  // The container image belongs to its pack.
  bool pack_contains_image = false;
  for (const auto& r : doc["relationships"])
    pack_contains_image |= r["spdxElementId"] == "SPDXRef-pack-store-hello" &&
                           r["relatedSpdxElement"].get<std::string>().rfind("SPDXRef-oci-", 0) == 0;
  EXPECT_TRUE(pack_contains_image);
  // An undeclared LicenseRef and a dangling relationship fail the oracle.
  doc["hasExtractedLicensingInfos"] = nlohmann::json::array();
  doc["relationships"].push_back({{"spdxElementId", "SPDXRef-Image"},
                                  {"relationshipType", "CONTAINS"},
                                  {"relatedSpdxElement", "SPDXRef-nowhere"}});
  out = validate(tmp, "bad.spdx.json", doc, status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("LicenseRef-public-domain is not in hasExtractedLicensingInfos"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("SPDXRef-nowhere"), std::string::npos) << out;
}

TEST(SbomDocuments, SameFactsSameBytesAndTheImageDecidesTheIdentity) {
  auto a = sample_facts(), b = sample_facts();
  EXPECT_EQ(spdx_document(a).dump(), spdx_document(b).dump());
  EXPECT_EQ(cyclonedx_document(a).dump(), cyclonedx_document(b).dump());
  b.image_sha256 = std::string(64, '9');
  EXPECT_NE(spdx_document(a)["documentNamespace"], spdx_document(b)["documentNamespace"]);
  EXPECT_NE(cyclonedx_document(a)["serialNumber"], cyclonedx_document(b)["serialNumber"]);
  std::string serial = cyclonedx_document(a)["serialNumber"];
  EXPECT_EQ(serial.size(), 9u + 36);
  EXPECT_EQ(serial[9 + 14], '5');  // a version-5-shaped UUID
}

TEST(Provenance, NamesSubjectsAndInputsInSlsaV1) {
  ProvenanceFacts f;
  f.tool_version = "0.9.0";
  f.external_parameters = {{"profile", {{"name", "x"}}}};
  f.internal_parameters = {{"epoch", 1}};
  f.dependencies = {{"base (mmdebstrap)", "mmdebstrap:bookworm", std::string(64, 'a')},
                    {"layer 1 (directory)", "file:site", ""}};
  f.subjects = {{"x-1.0.0.squashfs", "", std::string(64, 'b')}};
  auto s = provenance_statement(f);
  EXPECT_EQ(s["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(s["predicateType"], "https://slsa.dev/provenance/v1");
  EXPECT_EQ(s["subject"][0]["digest"]["sha256"], std::string(64, 'b'));
  const auto& deps = s["predicate"]["buildDefinition"]["resolvedDependencies"];
  ASSERT_EQ(deps.size(), 2u);
  EXPECT_EQ(deps[0]["digest"]["sha256"], std::string(64, 'a'));
  EXPECT_FALSE(deps[1].contains("digest"));
  EXPECT_EQ(deps[1]["uri"], "file:site");
  EXPECT_EQ(s["predicate"]["runDetails"]["builder"]["version"]["edgeforge"], "0.9.0");
}

}  // namespace
}  // namespace ef::sbom
