// Hostile and broken bundles: every truncation, bit flips in every part,
// manifests that a trusted key signed but that break the format, and claims
// that would make a naive verifier allocate. Each must fail with its own
// error, never crash, never pass.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <nlohmann/json.hpp>

#include "signing/bundle.hpp"
#include "tests/signing/bundle_fixture.hpp"
#include "util/atomic_file.hpp"
#include "util/canonical_json.hpp"
#include "util/file_io.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace ef::signing {
namespace {

using namespace fixture;
using nlohmann::json;

class BundleCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = SigningKey::generate(Algorithm::ed25519);
    ASSERT_TRUE(k);
    key_ = std::make_unique<SigningKey>(std::move(*k));
    ASSERT_TRUE(
        create_bundle(inputs_for(write_image(tmp / "image", 64)), {key_.get()}, tmp / "good.efb"));
    good_ = *read_file(tmp / "good.efb");
    auto b = Bundle::open(tmp / "good.efb");
    ASSERT_TRUE(b);
    header_ = b->header();
    manifest_ = b->manifest_bytes();
    payload_ = good_.substr(header_.payload_offset);
    auto ring = Keyring::load(write_keyring(tmp / "keyring", {key_.get()}));
    ASSERT_TRUE(ring);
    ring_ = std::make_unique<Keyring>(std::move(*ring));
  }

  Result<VerifiedBundle> verify(const std::string& bytes) {
    // Overwrite in place and cut to size: no fsync per case, and no
    // truncate-to-zero (which makes ext4 flush the old data every time).
    auto path = tmp / "case.efb";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    EXPECT_TRUE(fd);
    EXPECT_TRUE(pwrite_all(fd.get(), bytes.data(), bytes.size(), 0, path));
    EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(bytes.size())), 0);
    return verify_bundle(path, *ring_, {});
  }

  // Expects `bytes` to fail with `code` and a message containing `text`.
  void expect_refused(const std::string& bytes, Errc code, const std::string& text,
                      const std::string& what) {
    auto r = verify(bytes);
    ASSERT_FALSE(r) << what << " was accepted";
    EXPECT_EQ(r.error().code(), code) << what << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(text), std::string::npos)
        << what << ": " << r.error().message();
  }

  json manifest_json() const { return json::parse(manifest_); }

  // A bundle whose manifest is `manifest`, validly signed by the trusted key.
  std::string signed_bundle(const std::string& manifest, const std::string& payload) const {
    return assemble(manifest, sign_block(*key_, manifest), payload);
  }
  std::string signed_bundle(const json& manifest) const {
    return signed_bundle(*canonical_json(manifest), payload_);
  }

  ::ef::test::TempDir tmp;
  std::unique_ptr<SigningKey> key_;
  std::unique_ptr<Keyring> ring_;
  std::string good_, manifest_, payload_;
  BundleHeader header_;
};

TEST_F(BundleCorpusTest, TheGoodBundleVerifies) {
  auto r = verify(good_);
  EXPECT_TRUE(r) << r.error().message();
}

TEST_F(BundleCorpusTest, TruncationAtAnyOffsetIsRefused) {
  std::vector<size_t> cuts;
  for (size_t n = 0; n < header_.payload_offset + 8192; ++n) cuts.push_back(n);
  for (size_t n = header_.payload_offset + 8192; n < good_.size(); n += 4093) cuts.push_back(n);
  cuts.push_back(good_.size() - 1);
  for (size_t n : cuts) {
    std::string text = n < 64 ? "shorter than the 64-byte bundle header" : "truncated";
    expect_refused(good_.substr(0, n), Errc::bad_bundle, text, "cut at " + std::to_string(n));
    if (HasFailure()) return;
  }
  expect_refused(good_ + "x", Errc::bad_bundle, "unexpected data after the payload",
                 "one more byte");
}

TEST_F(BundleCorpusTest, AFlippedBitAnywhereIsRefused) {
  auto flip = [&](size_t offset, int bit) {
    std::string bytes = good_;
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << bit));
    return bytes;
  };
  for (size_t i = 0; i < 64; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      expect_refused(flip(i, bit), Errc::bad_bundle,
                     i < 8 ? "no EFBUNDLE magic" : "header checksum mismatch",
                     "header byte " + std::to_string(i));
    }
  }
  for (size_t i = 0; i < manifest_.size(); ++i) {
    expect_refused(flip(64 + i, static_cast<int>(i % 8)), Errc::untrusted,
                   "signature does not match the manifest", "manifest byte " + std::to_string(i));
  }
  size_t sigs = 64 + header_.manifest_size;
  for (size_t i = 0; i < header_.signatures_size; ++i) {
    auto r = verify(flip(sigs + i, static_cast<int>(i % 8)));
    ASSERT_FALSE(r) << "signature block byte " << i << " flipped was accepted";
    EXPECT_TRUE(r.error().code() == Errc::bad_bundle || r.error().code() == Errc::untrusted)
        << r.error().message();
  }
  expect_refused(flip(sigs + header_.signatures_size, 0), Errc::bad_bundle, "padding byte",
                 "first padding byte");
  expect_refused(flip(header_.payload_offset - 1, 7), Errc::bad_bundle, "padding byte",
                 "last padding byte");
  for (size_t i = 0; i < payload_.size(); i += 997) {
    expect_refused(flip(header_.payload_offset + i, static_cast<int>(i % 8)), Errc::checksum,
                   "payload sha256 does not match the signed manifest",
                   "payload byte " + std::to_string(i));
  }
}

TEST_F(BundleCorpusTest, SignedButMalformedManifestsHaveDistinctErrors) {
  struct Case {
    std::string name, manifest, expect;
  };
  std::string deep = "{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}";
  std::string with_dup = manifest_;
  with_dup.insert(with_dup.find("\"epoch\""), "\"compatible\":\"x\",");
  std::string spaced = manifest_;
  spaced.insert(1, " ");
  std::string with_float = manifest_;
  with_float.replace(with_float.find("\"epoch\":") + 8, 10, "1.5e9");
  json unknown = manifest_json();
  unknown["zzz"] = 1;
  json missing = manifest_json();
  missing.erase("compatible");
  json wrong_type = manifest_json();
  wrong_type["epoch"] = "1747699200";
  json bad_version = manifest_json();
  bad_version["version"] = "v1.4";
  json future = manifest_json();
  future["formatVersion"] = 2;
  json sizes = manifest_json();
  sizes["payload"]["size"] = sizes["payload"]["size"].get<uint64_t>() + 4096;
  json verity_unknown = manifest_json();
  verity_unknown["verity"]["mode"] = "fast";

  std::vector<Case> cases = {
      {"deeply nested", deep, "nested deeper than 8 levels"},
      {"duplicate key", with_dup, "duplicate key \"compatible\""},
      {"whitespace", spaced, "not in canonical form"},
      {"float", with_float, "is not an integer"},
      {"unknown key", *canonical_json(unknown), "unknown key \"zzz\""},
      {"unknown nested key", *canonical_json(verity_unknown), "unknown key \"verity.mode\""},
      {"missing key", *canonical_json(missing), "missing key \"compatible\""},
      {"wrong type", *canonical_json(wrong_type), "\"epoch\" must be an unsigned integer"},
      {"bad version", *canonical_json(bad_version), "is not a semantic version"},
      {"future format", *canonical_json(future), "manifest format version 2 is not supported"},
      {"not an object", "[1,2]", "manifest must be a JSON object"},
  };
  for (const auto& c : cases) {
    expect_refused(signed_bundle(c.manifest, payload_), Errc::bad_bundle, c.expect, c.name);
  }
  // Sizes that disagree: with the header (payload one block longer) or within.
  std::string longer = payload_ + std::string(4096, '\0');
  expect_refused(signed_bundle(*canonical_json(sizes), longer), Errc::bad_bundle,
                 "\"payload.size\" must be image.size + verity.treeSize", "inconsistent sizes");
  expect_refused(signed_bundle(*canonical_json(manifest_json()), longer), Errc::bad_bundle,
                 "header payload size", "header disagrees with manifest");
  // Larger than the format allows: refused from the header alone.
  std::string huge = "{\"a\":\"" + std::string(70000, 'x') + "\"}";
  expect_refused(signed_bundle(huge, payload_), Errc::bad_bundle,
                 "manifest size 70008 is outside 1..65536", "oversized manifest");
}

TEST_F(BundleCorpusTest, SignatureProblemsHaveDistinctErrors) {
  auto sig = key_->sign(manifest_);
  ASSERT_TRUE(sig);
  auto block = [&](const std::string& algorithm, const std::string& key_id) {
    return *encode_signature_block({{algorithm, key_id, *sig}});
  };
  expect_refused(assemble(manifest_, block("ed448", key_->key_id()), payload_), Errc::untrusted,
                 "unknown algorithm \"ed448\"", "unknown algorithm");
  expect_refused(assemble(manifest_, block("ecdsa-p256-sha256", key_->key_id()), payload_),
                 Errc::untrusted, "does not match the key (ed25519)", "algorithm mismatch");
  expect_refused(assemble(manifest_, block("ed25519", std::string(64, 'f')), payload_),
                 Errc::untrusted, "key not in the keyring", "unknown key ID");
  expect_refused(assemble(manifest_, "{\"signatures\":[]}", payload_), Errc::bad_bundle,
                 "must hold 1 to 16 signatures", "no signatures");
  expect_refused(assemble(manifest_, "{\"signatures\":[{\"algorithm\":\"ed25519\"}]}", payload_),
                 Errc::bad_bundle, "missing key \"signatures[0].keyId\"", "incomplete signature");
  // A 64-byte Ed25519 signature ends in "X==": X's low 4 bits are padding.
  // Setting one decodes to the same bytes but is not the canonical spelling.
  std::string b64 = *encode_signature_block({{"ed25519", key_->key_id(), *sig}});
  size_t pad = b64.find("==\"");
  ASSERT_NE(pad, std::string::npos);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  b64[pad - 1] = alphabet[alphabet.find(b64[pad - 1]) | 1];
  expect_refused(assemble(manifest_, b64, payload_), Errc::bad_bundle, "not canonical base64",
                 "base64 with padding bits set");
}

TEST_F(BundleCorpusTest, AVerityTreeThatDoesNotMatchItsRootIsRefused) {
  // A signer that writes a wrong tree but hashes it honestly: the payload
  // sha256 matches, the verity root hash does not.
  std::string payload = payload_;
  size_t tree_at = manifest_json()["verity"]["hashOffset"].get<size_t>();
  payload[tree_at + 5] = static_cast<char>(payload[tree_at + 5] ^ 0x20);
  json m = manifest_json();
  m["payload"]["sha256"] = sha256_hex(payload);
  expect_refused(signed_bundle(*canonical_json(m), payload), Errc::checksum,
                 "matches its sha256 but not the signed verity root hash", "bad tree");
}

TEST_F(BundleCorpusTest, ClaimsLargerThanTheFileAreRefusedBeforeReadingThem) {
  json m = manifest_json();
  uint64_t blocks = uint64_t{1} << 28;  // a 1 TiB image
  m["image"]["size"] = blocks * 4096;
  m["verity"]["dataBlocks"] = blocks;
  m["verity"]["hashOffset"] = blocks * 4096;
  std::string manifest = *canonical_json(m);
  std::string bytes = signed_bundle(manifest, payload_);
  // Make the header claim the payload the manifest describes.
  BundleHeader h = *decode_header(bytes.substr(0, 64));
  h.payload_size = blocks * 4096 + m["verity"]["treeSize"].get<uint64_t>();
  bytes.replace(0, 64, encode_header(h));
  expect_refused(bytes, Errc::bad_bundle, "truncated: the file is", "1 TiB claim");
}

#if defined(__SANITIZE_ADDRESS__)  // g++
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Peak memory of verifying `bundle` in a child process, in KiB.
long verify_peak_kib(const fs::path& bundle, const fs::path& keyring) {
  pid_t pid = ::fork();
  if (pid == 0) {
    auto ring = Keyring::load(keyring);
    bool ok = ring && verify_bundle(bundle, *ring, {});
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << bundle;
  return usage.ru_maxrss;
}

TEST_F(BundleCorpusTest, MemoryDoesNotGrowWithThePayload) {
  ASSERT_TRUE(create_bundle(inputs_for(write_image(tmp / "big", 32768)), {key_.get()},
                            tmp / "big.efb"));  // 128 MiB image
  long small = verify_peak_kib(tmp / "good.efb", tmp / "keyring");
  long big = verify_peak_kib(tmp / "big.efb", tmp / "keyring");
  // The 128 MiB payload has a 1 MiB tree; a verifier that loaded either
  // would grow by at least that much over the 256 KiB one. AddressSanitizer's
  // allocator (quarantine, shadow memory) blurs RSS by a few MiB; there only
  // a verifier that held the payload is caught.
  const long limit_kib = kAddressSanitizer ? 32 * 1024 : 1024;
  EXPECT_LT(big - small, limit_kib) << "small " << small << " KiB, big " << big << " KiB";
}

}  // namespace
}  // namespace ef::signing
