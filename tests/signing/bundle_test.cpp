// Bundles end to end through the library: write, open, trust, policy,
// payload. The stock-tool oracle is bundle_oracle_test.cpp; the hostile
// inputs are bundle_corpus_test.cpp.
#include "signing/bundle.hpp"

#include <gtest/gtest.h>

#include "tests/signing/bundle_fixture.hpp"
#include "tests/support/command.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::signing {
namespace {

using namespace fixture;

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = SigningKey::generate(Algorithm::ed25519);
    ASSERT_TRUE(k);
    key_ = std::make_unique<SigningKey>(std::move(*k));
    image_ = write_image(tmp / "image.squashfs", 300);
    keyring_ = write_keyring(tmp / "keyring", {key_.get()});
  }

  Result<VerifiedBundle> verify(const fs::path& bundle, const VerifyPolicy& policy = {}) {
    auto ring = Keyring::load(keyring_);
    if (!ring) return std::move(ring).error();
    return verify_bundle(bundle, *ring, policy);
  }

  ::ef::test::TempDir tmp;
  std::unique_ptr<SigningKey> key_;
  fs::path image_, keyring_;
};

TEST_F(BundleTest, WritesAVerifiableBundleWhoseManifestDescribesTheImage) {
  auto m = create_bundle(inputs_for(image_), {key_.get()}, tmp / "b.efb");
  ASSERT_TRUE(m) << m.error().message();
  auto v = verify(tmp / "b.efb");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->signature.key_id, key_->key_id());
  EXPECT_EQ(v->signature.key_file, keyring_ / "key0.pub");

  const BundleManifest& got = v->manifest;
  EXPECT_EQ(got.product, "store-edge");
  EXPECT_EQ(got.compatible, "store-edge-nuc");
  EXPECT_EQ(got.version.str(), "1.4.0");
  EXPECT_EQ(got.min_version.str(), "1.2.0");
  EXPECT_EQ(got.epoch, 1747699200u);
  EXPECT_EQ(got.image.size, 300u * 4096);
  EXPECT_EQ(got.image.sha256, *sha256_file(image_));
  EXPECT_EQ(got.verity.data_blocks, 300u);
  EXPECT_EQ(got.verity.hash_offset, got.image.size);
  EXPECT_EQ(got.verity.tree_size, 4u * 4096);  // 3 leaf blocks (128 digests each) + 1 top
  EXPECT_EQ(got.payload.size, got.image.size + got.verity.tree_size);
  ASSERT_EQ(got.boot.size(), 2u);
  EXPECT_EQ(got.boot[0].role, "kernel");
  EXPECT_EQ(got.boot[1].path, "/boot/initrd.img-6.1.0-56-amd64");

  // The payload in the file is the image followed by the tree.
  auto file = read_file(tmp / "b.efb");
  ASSERT_TRUE(file);
  auto b = Bundle::open(tmp / "b.efb");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->header().payload_offset % 4096, 0u);
  EXPECT_EQ(file->size(), b->header().payload_offset + got.payload.size);
  EXPECT_EQ(file->substr(b->header().payload_offset, got.image.size), *read_file(image_));
  EXPECT_EQ(sha256_hex(file->substr(b->header().payload_offset)), got.payload.sha256);
  EXPECT_FALSE(fs::exists(tmp / "b.efb.verity"));  // scratch tree removed
}

TEST_F(BundleTest, SameImageAndEd25519KeyGiveTheSameBytes) {
  ASSERT_TRUE(create_bundle(inputs_for(image_), {key_.get()}, tmp / "1.efb"));
  ASSERT_TRUE(create_bundle(inputs_for(image_), {key_.get()}, tmp / "2.efb"));
  EXPECT_EQ(*sha256_file(tmp / "1.efb"), *sha256_file(tmp / "2.efb"));
}

// Documents after the payload (SBOM, provenance): signed by size and
// sha256, readable with dd at the offsets the manifest implies, and any
// change to them, a cut or an extra byte is an error naming what broke.
TEST_F(BundleTest, AttachmentsFollowThePayloadUnderTheSignature) {
  ASSERT_TRUE(write_file_atomic(tmp / "x.spdx.json", "{\"spdxVersion\":\"SPDX-2.3\"}\n"));
  ASSERT_TRUE(write_file_atomic(tmp / "x.provenance.json", "{\"_type\":\"statement\"}\n"));
  BundleInputs in = inputs_for(image_);
  in.attachments = {{"sbom", "application/spdx+json", tmp / "x.spdx.json"},
                    {"provenance", "application/vnd.in-toto+json", tmp / "x.provenance.json"}};
  auto m = create_bundle(in, {key_.get()}, tmp / "a.efb");
  ASSERT_TRUE(m) << m.error().message();
  auto v = verify(tmp / "a.efb");
  ASSERT_TRUE(v) << v.error().message();
  ASSERT_EQ(v->manifest.attachments.size(), 2u);
  const Attachment& sbom = v->manifest.attachments[0];
  EXPECT_EQ(sbom.role, "sbom");
  EXPECT_EQ(sbom.name, "x.spdx.json");
  EXPECT_EQ(sbom.sha256, *sha256_file(tmp / "x.spdx.json"));

  auto b = Bundle::open(tmp / "a.efb");
  ASSERT_TRUE(b);
  auto bytes = read_attachment(*b, v->manifest, "provenance");
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(*bytes, *read_file(tmp / "x.provenance.json"));
  // The stock-tool way docs/bundle-format.md gives: the payload's end, then in order.
  uint64_t at = b->header().payload_offset + v->manifest.payload.size;
  auto dd = ::ef::test::run_command("dd if=" + (tmp / "a.efb").string() +
                                    " bs=1 skip=" + std::to_string(at) +
                                    " count=" + std::to_string(sbom.size) + " 2>/dev/null");
  EXPECT_EQ(dd.out, *read_file(tmp / "x.spdx.json"));
  // Same inputs, same bytes.
  ASSERT_TRUE(create_bundle(in, {key_.get()}, tmp / "a2.efb"));
  EXPECT_EQ(*sha256_file(tmp / "a.efb"), *sha256_file(tmp / "a2.efb"));

  std::string file = *read_file(tmp / "a.efb");
  // A changed SBOM byte: the bundle still installs (the payload is intact),
  // the document does not read.
  std::string flipped = file;
  flipped[at + 3] ^= 1;
  ASSERT_TRUE(write_file_atomic(tmp / "f.efb", flipped));
  auto fb = Bundle::open(tmp / "f.efb");
  ASSERT_TRUE(fb);
  auto bad = read_attachment(*fb, v->manifest, "sbom");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::checksum);
  EXPECT_NE(bad.error().message().find("x.spdx.json at offset " + std::to_string(at)),
            std::string::npos)
      << bad.error().message();
  // Cut short, or with bytes after the last document.
  // The manifest says how long the file is, so that is checked with it
  // (after the signatures): a cut into the payload is caught at open.
  ASSERT_TRUE(write_file_atomic(tmp / "t.efb", file.substr(0, file.size() - 1)));
  auto cut = Bundle::open(tmp / "t.efb");
  ASSERT_TRUE(cut);
  EXPECT_NE(error_of(cut->manifest()).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(verify(tmp / "t.efb")).find("truncated"), std::string::npos);
  ASSERT_TRUE(write_file_atomic(tmp / "e.efb", file + "x"));
  auto extra = Bundle::open(tmp / "e.efb");
  ASSERT_TRUE(extra);
  EXPECT_NE(error_of(extra->manifest()).find("unexpected data after the attachments"),
            std::string::npos);
  ASSERT_TRUE(write_file_atomic(tmp / "p.efb", file.substr(0, at - 1)));
  EXPECT_NE(error_of(Bundle::open(tmp / "p.efb")).find("truncated"), std::string::npos);
  // An altered manifest is reported as one, not as a length mismatch.
  std::string altered = file;
  altered[80] ^= 0x20;
  ASSERT_TRUE(write_file_atomic(tmp / "m.efb", altered));
  EXPECT_NE(error_of(verify(tmp / "m.efb")).find("signature does not match the manifest"),
            std::string::npos)
      << error_of(verify(tmp / "m.efb"));
  // A bundle without them says so.
  ASSERT_TRUE(create_bundle(inputs_for(image_), {key_.get()}, tmp / "plain.efb"));
  auto plain = Bundle::open(tmp / "plain.efb");
  ASSERT_TRUE(plain);
  auto none = read_attachment(*plain, *plain->manifest(), "sbom");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::not_found);
}

TEST_F(BundleTest, ManifestAttachmentsAreCheckedStrictly) {
  ASSERT_TRUE(write_file_atomic(tmp / "doc.json", "{}\n"));
  BundleInputs in = inputs_for(image_);
  in.attachments = {{"sbom", "application/spdx+json", tmp / "doc.json"}};
  auto m = create_bundle(in, {key_.get()}, tmp / "a.efb");
  ASSERT_TRUE(m);
  auto with = [&](auto edit) {
    BundleManifest copy = *m;
    edit(copy);
    return error_of(encode_manifest(copy));
  };
  EXPECT_NE(with([](BundleManifest& c) {
              c.attachments[0].role = "readme";
            }).find("\"attachments[0].role\" must be \"sbom\", \"provenance\" or \"kernel-image\""),
            std::string::npos);
  EXPECT_NE(with([](BundleManifest& c) {
              c.attachments[0].name = "../etc/passwd";
            }).find("must be a file name without '/'"),
            std::string::npos);
  EXPECT_NE(with([](BundleManifest& c) { c.attachments[0].size = 0; }).find("size"),
            std::string::npos);
  EXPECT_NE(with([](BundleManifest& c) {
              c.attachments.push_back(c.attachments[0]);
            }).find("names doc.json twice"),
            std::string::npos);
  // An empty document cannot be attached.
  ASSERT_TRUE(write_file_atomic(tmp / "empty.json", ""));
  in.attachments = {{"sbom", "application/spdx+json", tmp / "empty.json"}};
  EXPECT_NE(error_of(create_bundle(in, {key_.get()}, tmp / "e.efb")).find("1 byte to 256 MiB"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "e.efb"));
}

TEST_F(BundleTest, SeveralKeysRotateTrust) {
  auto next = SigningKey::generate(Algorithm::ecdsa_p256_sha256);
  auto third = SigningKey::generate(Algorithm::rsa3072_pss_sha256);
  ASSERT_TRUE(next && third);
  ASSERT_TRUE(create_bundle(inputs_for(image_), {key_.get(), &*next, &*third}, tmp / "b.efb"));
  for (const SigningKey* trusted : {key_.get(), &*next, &*third}) {
    auto ring = Keyring::load(write_keyring(tmp / ("ring-" + trusted->key_id()), {trusted}));
    ASSERT_TRUE(ring);
    auto v = verify_bundle(tmp / "b.efb", *ring, {});
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->signature.key_id, trusted->key_id());
  }
  // Old key revoked, new key trusted: still accepted, by the new key.
  auto ring = Keyring::load(write_keyring(tmp / "rotated", {key_.get(), &*next}, {key_->key_id()}));
  ASSERT_TRUE(ring);
  auto v = verify_bundle(tmp / "b.efb", *ring, {});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->signature.key_id, next->key_id());
  EXPECT_EQ(v->signature.index, 1u);
}

TEST_F(BundleTest, UntrustedAndRevokedKeysAreRefusedDistinctly) {
  auto stranger = SigningKey::generate(Algorithm::ed25519);
  ASSERT_TRUE(stranger);
  ASSERT_TRUE(create_bundle(inputs_for(image_), {&*stranger}, tmp / "stranger.efb"));
  auto r = verify(tmp / "stranger.efb");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::untrusted);
  EXPECT_NE(r.error().message().find("key not in the keyring (untrusted)"), std::string::npos);
  EXPECT_NE(r.error().message().find(stranger->key_id().substr(0, 16)), std::string::npos);

  ASSERT_TRUE(create_bundle(inputs_for(image_), {key_.get()}, tmp / "b.efb"));
  auto ring = Keyring::load(write_keyring(tmp / "revoking", {key_.get()}, {key_->key_id()}));
  ASSERT_TRUE(ring);
  r = verify_bundle(tmp / "b.efb", *ring, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::untrusted);
  EXPECT_NE(r.error().message().find("key revoked by"), std::string::npos);
}

TEST_F(BundleTest, PolicyRefusesOtherDevicesFloorsAndDowngrades) {
  ASSERT_TRUE(create_bundle(inputs_for(image_), {key_.get()}, tmp / "b.efb"));
  auto refused = [&](VerifyPolicy p, const std::string& text) {
    auto r = verify(tmp / "b.efb", p);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), Errc::refused);
    EXPECT_NE(r.error().message().find(text), std::string::npos) << r.error().message();
  };
  refused({"other-device", {}, {}, false},
          "bundle is for \"store-edge-nuc\", this device is \"other-device\"");
  refused({"", SemVer::parse("1.5.0").value(), {}, false}, "below the anti-rollback floor 1.5.0");
  refused({"", {}, SemVer::parse("1.4.1").value(), false}, "older than the installed 1.4.1");
  refused({"", {}, SemVer::parse("2.0.0-rc.1").value(), false}, "older than the installed");

  for (VerifyPolicy ok :
       {VerifyPolicy{"store-edge-nuc", SemVer::parse("1.4.0").value(),
                     SemVer::parse("1.4.0").value(), false},
        VerifyPolicy{"", SemVer::parse("1.0.0").value(), SemVer::parse("1.9.0").value(), true},
        VerifyPolicy{"", {}, SemVer::parse("1.4.0-rc.2").value(), false}}) {
    auto r = verify(tmp / "b.efb", ok);
    EXPECT_TRUE(r) << r.error().message();
  }
}

TEST_F(BundleTest, BadInputsToCreateAreErrorsAndLeaveNothing) {
  auto odd = tmp.write("odd.squashfs", std::string(5000, 'x'));
  auto r = create_bundle(inputs_for(odd), {key_.get()}, tmp / "out" / "b.efb");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a non-zero multiple of 4096"), std::string::npos);
  r = create_bundle(inputs_for(tmp / "missing"), {key_.get()}, tmp / "out" / "b.efb");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
  r = create_bundle(inputs_for(image_), {}, tmp / "out" / "b.efb");
  ASSERT_FALSE(r);
  BundleInputs floor_above = inputs_for(image_);
  floor_above.min_version = *SemVer::parse("2.0.0");
  r = create_bundle(floor_above, {key_.get()}, tmp / "out" / "b.efb");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("\"minVersion\" 2.0.0 is above \"version\" 1.4.0"),
            std::string::npos);
  EXPECT_TRUE(!fs::exists(tmp / "out") || fs::is_empty(tmp / "out"));
}

TEST_F(BundleTest, KeyringErrorsNameTheFileAndLine) {
  auto empty = tmp / "empty";
  fs::create_directories(empty);
  EXPECT_NE(error_of(Keyring::load(empty)).find("holds no public keys"), std::string::npos);
  EXPECT_NE(error_of(Keyring::load(tmp / "nope")).find("is not a directory"), std::string::npos);
  auto ring = write_keyring(tmp / "ring", {key_.get()});
  ASSERT_TRUE(
      write_file_atomic(ring / "revoked", "# ok\n\n" + std::string(64, 'a') + "\nnot-an-id\n"));
  EXPECT_NE(error_of(Keyring::load(ring)).find("ring/revoked:4: not a key ID"), std::string::npos);
  ASSERT_TRUE(
      write_file_atomic(ring / "revoked", std::string(64, 'A') + "  # upper case is fine\n"));
  auto loaded = Keyring::load(ring);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(loaded->is_revoked(std::string(64, 'a')));
  ASSERT_TRUE(write_file_atomic(ring / "junk.pub", "not pem"));
  EXPECT_NE(error_of(Keyring::load(ring)).find("junk.pub: not a PEM public key"),
            std::string::npos);
}

}  // namespace
}  // namespace ef::signing
