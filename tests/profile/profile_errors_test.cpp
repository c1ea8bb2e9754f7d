// Profiles that must not load: every error names file:line:column exactly.
#include <gtest/gtest.h>

#include "tests/profile/profile_fixture.hpp"

namespace ef::profile {
namespace {

constexpr Errc kInvalid = Errc::invalid_profile;

// 1-based column of `token` in `line` (the line as written, without '\n').
int col(std::string_view line, std::string_view token) {
  return static_cast<int>(line.find(token)) + 1;
}

TEST_F(ProfileTest, UnknownKeys) {
  auto r = load("demo.yaml", std::string(kHead) +
                                 "  base:\n"
                                 "    tarball: {path: rootfs.tar}\n"
                                 "    foo: 1\n");
  EXPECT_PROFILE_ERROR(
      r, kInvalid, at("demo.yaml", 9, 5),
      "unknown key 'foo' in spec.base (expected one of: tarball, oci, mmdebstrap)");

  r = load_with_base("extra: 1\n");
  EXPECT_PROFILE_ERROR(
      r, kInvalid, at("demo.yaml", 9, 1),
      "unknown key 'extra' at the top level (expected one of: apiVersion, kind, metadata, spec)");

  const std::string line = "        - {path: /a, content: x, owner: 0}";
  r = load_with_base("  layers:\n    - files:\n" + line + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, col(line, "owner")),
                       "unknown key 'owner' in spec.layers[0].files[0] (expected one of: path, "
                       "content, source, mode, uid, gid)");

  const std::string output = "  output: {compression: zstd, blocksize: 4096}";
  r = load_with_base(output + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, col(output, "blocksize")),
                       "unknown key 'blocksize' in spec.output (expected one of: compression, "
                       "level, blockSize, formats, disk, persistentPaths, installerSite)");
}

// Latin-1 text (a file saved in another encoding) would reach the JSON
// writers, which refuse it by throwing; the loader names the byte instead.
TEST_F(ProfileTest, TextThatIsNotUtf8) {
  const std::string line = "        - {path: /etc/motd, content: \"caf\xe9\"}";
  auto r = load_with_base("  layers:\n    - files:\n" + line + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, col(line, "\xe9")),
                       "not UTF-8 (byte 0xe9); save the file as UTF-8");
}

TEST_F(ProfileTest, WrongTypes) {
  auto r = load_with_base("  output:\n    level: [1]\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 12),
                       "spec.output.level: expected an integer, got a sequence");
  r = load_with_base("  output:\n    level: abc\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 12),
                       "spec.output.level: expected an integer, got a string \"abc\"");
  r = load_with_base("  output:\n    level: \"15\"\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 12),
                       "spec.output.level: expected an integer, got a string \"15\"");
  // An empty value is reported where its key is.
  r = load_with_base("  output:\n    level:\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 5),
                       "spec.output.level: expected an integer, got null");
  r = load_with_base("  layers: {tarball: x}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, 11),
                       "spec.layers: expected a sequence, got a mapping");
  r = load_with_base("  extends: base.yaml\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, 12),
                       "spec.extends: expected a sequence, got a string \"base.yaml\"");
  r = load("demo.yaml", "hello\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 1, 1),
                       "expected a mapping, got a string \"hello\"");
}

TEST_F(ProfileTest, MissingLocalFiles) {
  const std::string tar = "    - tarball: {path: missing.tar.zst}";
  auto r = load_with_base("  layers:\n" + tar + "\n");
  EXPECT_PROFILE_ERROR(
      r, Errc::not_found, at("demo.yaml", 10, col(tar, "missing")),
      "spec.layers[0].tarball.path: file not found: " + (tmp / "missing.tar.zst").string());

  const std::string dir = "    - directory: {path: ../nowhere/site}";
  r = load_with_base("  layers:\n" + dir + "\n");
  EXPECT_PROFILE_ERROR(r, Errc::not_found, at("demo.yaml", 10, col(dir, "../")),
                       "spec.layers[0].directory.path: directory not found: " +
                           (tmp.path().parent_path() / "nowhere/site").string());

  const std::string src = "        - {path: /bin/x, source: bin/x}";
  r = load_with_base("  layers:\n    - files:\n" + src + "\n");
  EXPECT_PROFILE_ERROR(
      r, Errc::not_found, at("demo.yaml", 11, col(src, "bin/x}")),
      "spec.layers[0].files[0].source: file not found: " + (tmp / "bin/x").string());

  r = load("demo.yaml", std::string(kHead) + "  base:\n    oci: {path: img/, ref: latest}\n");
  EXPECT_PROFILE_ERROR(r, Errc::not_found, at("demo.yaml", 8, 17),
                       "spec.base.oci.path: file not found: " + (tmp / "img").string());

  r = load_with_base("  extends: [parent.yaml]\n");
  EXPECT_PROFILE_ERROR(r, Errc::not_found, at("demo.yaml", 9, 13),
                       "spec.extends[0]: file not found: " + (tmp / "parent.yaml").string());

  auto missing = load_profile(tmp / "nope.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_EQ(missing.error().message().rfind((tmp / "nope.yaml").string() + ": ", 0), 0u);
}

TEST_F(ProfileTest, LocalFilesOfTheWrongType) {
  tmp.write("site.tar/x", "");
  tmp.write("plain", "");
  auto r = load_with_base("  layers:\n    - tarball: {path: site.tar}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 23),
                       "spec.layers[0].tarball.path: is a directory, expected a file: " +
                           (tmp / "site.tar").string());
  r = load_with_base("  layers:\n    - directory: {path: plain}\n");
  EXPECT_PROFILE_ERROR(
      r, kInvalid, at("demo.yaml", 10, 25),
      "spec.layers[0].directory.path: not a directory: " + (tmp / "plain").string());
}

TEST_F(ProfileTest, ArtifactRules) {
  const std::string sha = "    - tarball: {url: https://x/a.tar, sha256: abc}";
  auto r = load_with_base("  layers:\n" + sha + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, col(sha, "abc")),
                       "spec.layers[0].tarball.sha256: expected 64 hex characters, got \"abc\"");

  r = load_with_base("  layers:\n    - tarball: {url: https://x/a.tar}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 16),
                       "spec.layers[0].tarball: url needs sha256 (downloads are pinned to their "
                       "digest)");

  const std::string both = "    - tarball: {path: rootfs.tar, url: https://x/a.tar}";
  r = load_with_base("  layers:\n" + both + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, col(both, "url")),
                       "spec.layers[0].tarball: expected exactly one of path, url, got both path "
                       "and url");

  r = load_with_base("  layers:\n    - tarball: {sha256: " + std::string(64, 'a') + "}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 16),
                       "spec.layers[0].tarball: expected exactly one of path, url, got none");

  const std::string ftp = "    - oci: {url: ftp://x/a.tar, sha256: " + std::string(64, 'a') + "}";
  r = load_with_base("  layers:\n" + ftp + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, col(ftp, "ftp")),
                       "spec.layers[0].oci.url: expected an http:// or https:// URL, got "
                       "\"ftp://x/a.tar\"");

  // A pinned local file: the digest's format is checked too.
  r = load_with_base("  layers:\n    - tarball: {path: rootfs.tar, sha256: 12}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 43),
                       "spec.layers[0].tarball.sha256: expected 64 hex characters, got \"12\"");
}

TEST_F(ProfileTest, ExactlyOneKind) {
  auto r = load("demo.yaml", std::string(kHead) +
                                 "  base:\n"
                                 "    tarball: {path: rootfs.tar}\n"
                                 "    mmdebstrap: {suite: bookworm}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, 5),
                       "spec.base: expected exactly one of tarball, oci, mmdebstrap, got both "
                       "tarball and mmdebstrap");
  r = load("demo.yaml", std::string(kHead) + "  base: {}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 7, 9),
                       "spec.base: expected exactly one of tarball, oci, mmdebstrap, got none");

  r = load_with_base("  layers:\n    - {tarball: {path: rootfs.tar}, files: []}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 37),
                       "spec.layers[0]: expected exactly one of tarball, directory, oci, files, "
                       "got both tarball and files");

  tmp.write("tool", "");
  const std::string entry = "        - {path: /a, content: x, source: tool}";
  r = load_with_base("  layers:\n    - files:\n" + entry + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, col(entry, "source")),
                       "spec.layers[0].files[0]: expected exactly one of content, source, got "
                       "both content and source");
}

TEST_F(ProfileTest, MissingRequiredKeys) {
  auto r = load_with_base("  layers:\n    - files:\n        - {content: x}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, 11),
                       "spec.layers[0].files[0]: missing required key 'path'");
  r = load("demo.yaml", std::string(kHead) + "  base:\n    mmdebstrap:\n      variant: apt\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, 7),
                       "spec.base.mmdebstrap: missing required key 'suite'");
  r = load("demo.yaml", "kind: Profile\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 1, 1), "missing required key 'apiVersion'");
}

TEST_F(ProfileTest, ApiVersionAndKind) {
  auto r = load("demo.yaml", "apiVersion: edgeforge.dev/v2\nkind: Profile\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 1, 13),
                       "apiVersion: expected edgeforge.dev/v1alpha1, got \"edgeforge.dev/v2\"");
  r = load("demo.yaml", "apiVersion: edgeforge.dev/v1alpha1\nkind: Image\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 2, 7), "kind: expected Profile, got \"Image\"");
}

TEST_F(ProfileTest, YamlSyntaxErrors) {
  auto r = load("demo.yaml", "apiVersion: [x\nkind: Profile\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 2, 5),
                       "YAML syntax error: end of sequence flow not found");
  r = load("demo.yaml", "apiVersion: edgeforge.dev/v1alpha1\n\tkind: Profile\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 2, 1),
                       "YAML syntax error: illegal tab when looking for indentation");
  r = load("demo.yaml", "");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 1, 1), "the profile is empty");
  // The second document is named where it starts: at its '---'.
  r = load("demo.yaml", std::string(kHead) + std::string(kBase) + "---\nkind: Profile\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, 1),
                       "a profile is one YAML document, found a second one (remove the '---')");
  // yaml-cpp 0.7's LoadAll never returns on this; one line instead.
  r = load("demo.yaml", ",");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), kInvalid) << r.error().message();
}

TEST_F(ProfileTest, DuplicateKeys) {
  auto r = load_with_base("  output:\n    level: 3\n    level: 4\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, 5),
                       "duplicate key 'level' in spec.output (first at line 10)");
  r = load_with_base("  layers:\n    - tarball: {path: rootfs.tar, path: rootfs.tar}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 35),
                       "duplicate key 'path' in spec.layers[0].tarball (first at line 10)");
  r = load_with_base("spec: {}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, 1),
                       "duplicate key 'spec' at the top level (first at line 6)");
}

TEST_F(ProfileTest, BadNameAndVersion) {
  for (const char* v : {"1.4", "1.4.0.1", "01.4.0", "1.4.0-", "1.4.0-01", "v1.4.0", "1.4.0+",
                        "1.4.0-a..b", "1.x.0"}) {
    auto r =
        load("v.yaml", std::string(kHead).replace(kHead.find("1.0.0"), 5, v) + std::string(kBase));
    EXPECT_PROFILE_ERROR(r, kInvalid, at("v.yaml", 5, 12),
                         "metadata.version: \"" + std::string(v) +
                             "\" is not a semantic version like 1.4.0 or 2.0.0-rc.1+build.5");
  }
  auto r = load("n.yaml",
                std::string(kHead).replace(kHead.find("demo"), 4, "Store") + std::string(kBase));
  EXPECT_PROFILE_ERROR(r, kInvalid, at("n.yaml", 4, 9),
                       "metadata.name: \"Store\" must start with a lower-case letter or digit");
  r = load("n.yaml", std::string(kHead).replace(kHead.find("demo"), 4, "a/b") + std::string(kBase));
  EXPECT_PROFILE_ERROR(r, kInvalid, at("n.yaml", 4, 9),
                       "metadata.name: \"a/b\" may only contain a-z, 0-9, '.', '_' and '-' (it "
                       "becomes a file name)");
}

TEST_F(ProfileTest, BadEpoch) {
  std::string head(kHead);
  head.insert(head.find("spec:"), "  epoch: -1\n");
  auto r = load("e.yaml", head + std::string(kBase));
  EXPECT_PROFILE_ERROR(r, kInvalid, at("e.yaml", 6, 10),
                       "metadata.epoch: -1 is out of range (0..4294967295)");
}

TEST_F(ProfileTest, BadFileEntries) {
  struct Case {
    std::string entry;  // one files: entry
    std::string token;  // where the error is
    std::string message;
  };
  const std::string p = "spec.layers[0].files[0].";
  const Case cases[] = {
      {"{path: /a, content: x, mode: \"0999\"}", "\"0999\"",
       p + "mode: expected an octal mode like \"0644\" (at most 07777), got a string \"0999\""},
      {"{path: /a, content: x, mode: 10000}", "10000",
       p + "mode: expected an octal mode like \"0644\" (at most 07777), got a string \"10000\""},
      {"{path: /a, content: x, mode: [1]}", "[1]",
       p + "mode: expected an octal mode like \"0644\" (at most 07777), got a sequence"},
      {"{path: etc/motd, content: x}", "etc/",
       p + "path: must be an absolute path inside the image"},
      {"{path: /etc/../x, content: x}", "/etc", p + "path: must not contain '..' components"},
      {"{path: /etc/, content: x}", "/etc", p + "path: must name a file, not end with '/'"},
      {"{path: /, content: x}", "/,", p + "path: must name a file, not the root directory"},
      {"{path: /a, content: x, uid: -1}", "-1", p + "uid: -1 is out of range (0..4294967294)"},
      {"{path: /a, content: x, gid: 1.5}", "1.5",
       p + "gid: expected an integer, got a string \"1.5\""},
  };
  for (const auto& c : cases) {
    const std::string line = "        - " + c.entry;
    auto r = load_with_base("  layers:\n    - files:\n" + line + "\n");
    EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, col(line, c.token)), c.message);
  }
}

TEST_F(ProfileTest, BadOutput) {
  struct Case {
    std::string output;
    std::string token;
    std::string message;
  };
  const Case cases[] = {
      {"{compression: brotli}", "brotli",
       "spec.output.compression: expected one of zstd, xz, gzip, lz4, got \"brotli\""},
      {"{compression: xz, level: 12}", "12", "spec.output.level: 12 is out of range for xz (0..9)"},
      {"{level: 23}", "23", "spec.output.level: 23 is out of range for zstd (1..22)"},
      {"{level: 0}", "0", "spec.output.level: 0 is out of range for zstd (1..22)"},
      {"{compression: gzip, level: 0}", "0}",
       "spec.output.level: 0 is out of range for gzip (1..9)"},
      {"{compression: lz4, level: 1}", "1}",
       "spec.output.level: lz4 takes no level; remove spec.output.level"},
      {"{blockSize: 5000}", "5000",
       "spec.output.blockSize: expected a power of two from 4096 to 1048576, got 5000"},
      {"{blockSize: 2048}", "2048",
       "spec.output.blockSize: expected a power of two from 4096 to 1048576, got 2048"},
      {"{blockSize: 2097152}", "2097152",
       "spec.output.blockSize: expected a power of two from 4096 to 1048576, got 2097152"},
  };
  for (const auto& c : cases) {
    const std::string line = "  output: " + c.output;
    auto r = load_with_base(line + "\n");
    EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, col(line, c.token)), c.message);
  }
}

TEST_F(ProfileTest, MmdebstrapArgumentsCannotBeOptions) {
  auto r = load("demo.yaml", std::string(kHead) +
                                 "  base:\n"
                                 "    mmdebstrap: {suite: bookworm, packages: [--hook-dir=x]}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 8, 46),
                       "spec.base.mmdebstrap.packages[0]: must not start with '-'");
}

TEST_F(ProfileTest, IncompleteTopLevelProfile) {
  auto r = load("demo.yaml",
                "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n  version: 1.0.0\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 4, 3),
                       "metadata.name is required (set it here or in a profile this one extends)");
  r = load("demo.yaml", std::string(kHead));
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 6, 1), "spec: expected a mapping, got null");
  r = load("demo.yaml",
           "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\nmetadata:\n"
           "  name: x\n  version: 1.0.0\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 1, 1),
                       "spec.base is required (set it here or in a profile this one extends)");
  r = load("demo.yaml", std::string(kHead) + "  layers: []\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 7, 3),
                       "spec.base is required (set it here or in a profile this one extends)");
  r = load("demo.yaml", "apiVersion: edgeforge.dev/v1alpha1\nkind: Profile\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 1, 1),
                       "metadata.name is required (set it here or in a profile this one extends)");
}

TEST_F(ProfileTest, BundleSettings) {
  auto ok = load_with_base("  bundle: {compatible: store-nuc, minVersion: 1.0.0}\n");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->bundle.compatible, "store-nuc");
  EXPECT_EQ(ok->bundle.min_version, "1.0.0");
  auto defaults = load_with_base("");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->bundle.compatible, "");
  EXPECT_EQ(defaults->bundle.min_version, "0.0.0");

  const std::string floor = "  bundle: {minVersion: 9.0.0}";
  auto r = load_with_base(floor + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, col(floor, "9.0.0")),
                       "spec.bundle.minVersion 9.0.0 is above metadata.version 1.0.0");
  const std::string bad = "  bundle: {minVersion: v1}";
  r = load_with_base(bad + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, col(bad, "v1")),
                       "spec.bundle.minVersion: \"v1\" is not a semantic version like 1.4.0 or "
                       "2.0.0-rc.1+build.5");
  const std::string unknown = "  bundle: {compat: x}";
  r = load_with_base(unknown + "\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 9, col(unknown, "compat")),
                       "unknown key 'compat' in spec.bundle (expected one of: compatible, "
                       "minVersion)");
}

}  // namespace
}  // namespace ef::profile
