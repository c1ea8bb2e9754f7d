// Third-party verification: runs exactly the commands docs/bundle-format.md
// gives (coreutils, openssl, jq, veritysetup) against bundles edgeforge
// wrote, for every signature algorithm, and checks that the same commands
// fail on tampered bundles, so the oracle cannot pass vacuously.
#include <gtest/gtest.h>

#include <string>

#include "signing/bundle.hpp"
#include "tests/signing/bundle_fixture.hpp"
#include "tests/support/command.hpp"
#include "util/atomic_file.hpp"

namespace ef::signing {
namespace {

using namespace fixture;

// The shell lines between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
std::vector<std::string> doc_lines(const std::string& name) {
  auto doc = read_file(fs::path(EF_SOURCE_DIR) / "docs" / "bundle-format.md");
  EXPECT_TRUE(doc);
  std::string begin = "<!-- " + name + ":begin -->", end = "<!-- " + name + ":end -->";
  size_t a = doc->find(begin), b = doc->find(end);
  EXPECT_NE(a, std::string::npos);
  EXPECT_NE(b, std::string::npos);
  std::vector<std::string> lines;
  std::string block = doc->substr(a + begin.size(), b - a - begin.size());
  for (size_t pos = 0; pos < block.size();) {
    size_t nl = block.find('\n', pos);
    std::string line = block.substr(pos, nl - pos);
    pos = nl == std::string::npos ? block.size() : nl + 1;
    if (!line.empty() && line.rfind("```", 0) != 0) lines.push_back(line);
  }
  return lines;
}

// The documented script, with the signature check for `algorithm`.
std::string script_for(Algorithm algorithm) {
  auto lines = doc_lines("verify-commands");
  auto variants = doc_lines("verify-signature-variants");
  EXPECT_EQ(variants.size(), 2u);
  std::string script = "set -eo pipefail\n";
  for (const auto& line : lines) {
    bool is_signature_check = line.rfind("openssl pkeyutl -verify", 0) == 0;
    if (is_signature_check && algorithm == Algorithm::ecdsa_p256_sha256) {
      script += variants.at(0) + "\n";
    } else if (is_signature_check && algorithm == Algorithm::rsa3072_pss_sha256) {
      script += variants.at(1) + "\n";
    } else {
      script += line + "\n";
    }
  }
  return script;
}

class BundleOracleTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  // Runs the documented commands on `bundle` with `pub` as KEY.
  int run_documented(const fs::path& bundle, const fs::path& pub, const std::string& dir) {
    fs::create_directories(tmp / dir);
    auto script = tmp.write(dir + ".sh", script_for(GetParam()));
    auto r = ::ef::test::run_command("cd '" + (tmp / dir).string() + "' && B='" + bundle.string() +
                                     "' KEY='" + pub.string() + "' bash '" + script.string() +
                                     "' >/dev/null 2>&1");
    return r.status;
  }

  ::ef::test::TempDir tmp;
};

INSTANTIATE_TEST_SUITE_P(All, BundleOracleTest,
                         ::testing::Values(Algorithm::ed25519, Algorithm::ecdsa_p256_sha256,
                                           Algorithm::rsa3072_pss_sha256),
                         [](const auto& param_info) {
                           std::string name = algorithm_name(param_info.param);
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST_P(BundleOracleTest, DocumentedStockCommandsVerifyOurBundles) {
  for (const char* tool : {"openssl", "jq", "veritysetup", "od", "sha256sum"}) {
    ASSERT_TRUE(::ef::test::have_tool(tool)) << tool << " is missing (scripts/install-deps.sh)";
  }
  auto key = SigningKey::generate(GetParam());
  ASSERT_TRUE(key);
  auto other = SigningKey::generate(Algorithm::ed25519);  // a second signature, listed first
  ASSERT_TRUE(other);
  auto pub = tmp.write("release.pub", key->public_key().pem());
  auto image = write_image(tmp / "image.squashfs", 700);  // two verity levels' worth of leaves
  // With the documents a build attaches: the commands extract and check them.
  auto sbom = tmp.write("x.spdx.json", "{\"spdxVersion\":\"SPDX-2.3\"}\n");
  auto prov = tmp.write("x.provenance.json", "{\"_type\":\"https://in-toto.io/Statement/v1\"}\n");
  BundleInputs in = inputs_for(image);
  in.attachments = {{"sbom", "application/spdx+json", sbom},
                    {"provenance", "application/vnd.in-toto+json", prov}};
  ASSERT_TRUE(create_bundle(in, {&*other, &*key}, tmp / "b.efb"));
  EXPECT_EQ(run_documented(tmp / "b.efb", pub, "good"), 0) << "the documented commands failed";
  // The extracted image is byte-for-byte the input.
  auto manifest = read_file(tmp / "good" / "payload.img");
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->substr(0, 700 * 4096), *read_file(image));
  EXPECT_EQ(*read_file(tmp / "good" / "x.spdx.json"), *read_file(sbom));
  EXPECT_EQ(*read_file(tmp / "good" / "x.provenance.json"), *read_file(prov));

  // The same commands refuse tampered bundles.
  auto bytes = *read_file(tmp / "b.efb");
  auto b = Bundle::open(tmp / "b.efb");
  ASSERT_TRUE(b);
  auto tampered = [&](size_t offset, const std::string& name) {
    std::string t = bytes;
    t[offset] = static_cast<char>(t[offset] ^ 0x04);
    EXPECT_TRUE(write_file_atomic(tmp / (name + ".efb"), t));
    EXPECT_NE(run_documented(tmp / (name + ".efb"), pub, name), 0) << name << " passed";
  };
  tampered(70, "manifest");
  tampered(b->header().payload_offset + 12345, "image");
  uint64_t payload_end = b->header().payload_offset + b->header().payload_size;
  tampered(payload_end - 100, "tree");
  tampered(payload_end + 3, "sbom");
  tampered(30, "header");
}

// The chunk index of a bundle head, checked with the documented commands
// against the manifest and payload the verify commands extracted.
TEST(BundleIndexOracleTest, DocumentedCommandsCheckTheChunkIndex) {
  ::ef::test::TempDir tmp;
  auto key = SigningKey::generate(Algorithm::ed25519);
  ASSERT_TRUE(key);
  auto pub = tmp.write("release.pub", key->public_key().pem());
  auto image = write_image(tmp / "image.squashfs", 200);
  auto m = create_bundle(inputs_for(image), {&*key}, tmp / "b.efb");
  ASSERT_TRUE(m) << m.error().message();
  auto b = Bundle::open(tmp / "b.efb");
  ASSERT_TRUE(b);
  auto chunks = chunk_payload(*b, *m);
  ASSERT_TRUE(chunks) << chunks.error().message();
  auto bytes = *read_file(tmp / "b.efb");
  std::string head = bytes.substr(0, b->header().payload_offset);
  std::string index = encode_chunk_index(*chunks);
  tmp.write("good.efbh", head + index);
  std::string altered = index;
  altered[5] = altered[5] == '1' ? '2' : '1';
  tmp.write("altered.efbh", head + altered);

  std::string script = "set -eo pipefail\n";
  for (const auto& l : doc_lines("verify-commands")) script += l + "\n";
  for (const auto& l : doc_lines("index-commands")) script += l + "\n";
  tmp.write("check.sh", script);
  auto run = [&](const std::string& h) {
    return ::ef::test::run_command("cd '" + tmp.path().string() +
                                   "' && B=b.efb KEY=release.pub H=" + h +
                                   " bash check.sh >/dev/null 2>&1")
        .status;
  };
  EXPECT_EQ(run("good.efbh"), 0) << "the documented index commands failed";
  EXPECT_NE(run("altered.efbh"), 0) << "an altered index passed";
}

}  // namespace
}  // namespace ef::signing
