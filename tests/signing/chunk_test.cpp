// The chunk layer of delta updates: the chunker (deterministic, stable under
// shifts), the index (strict against a hostile source), the chunk store's
// stored form, the planner, and the index inside signed bundles.
#include <gtest/gtest.h>

#include <random>

#include "signing/bundle.hpp"
#include "signing/chunk_index.hpp"
#include "signing/chunk_store.hpp"
#include "signing/delta_plan.hpp"
#include "tests/signing/bundle_fixture.hpp"
#include "tests/support/command.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::signing {
namespace {

using namespace fixture;

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

std::vector<Chunk> chunks_of(std::string_view data, ChunkParams p = {}) {
  Chunker c(p);
  c.update(data);
  return c.finish();
}

TEST(Chunker, AnySplitOfTheStreamGivesTheSameChunks) {
  std::string data = random_bytes(3 << 20, 7);
  auto whole = chunks_of(data);
  Chunker pieces;
  std::mt19937 rng(3);
  for (size_t pos = 0; pos < data.size();) {
    size_t n = std::min<size_t>(data.size() - pos, rng() % 100000);
    pieces.update(data.data() + pos, n);
    pos += n;
  }
  EXPECT_EQ(encode_chunk_index(pieces.finish()), encode_chunk_index(whole));
}

TEST(Chunker, ChunksCoverTheStreamWithinTheSizeLimits) {
  std::string data = random_bytes(8 << 20, 11);
  ChunkParams p;
  auto chunks = chunks_of(data, p);
  uint64_t at = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    EXPECT_EQ(c.offset, at);
    EXPECT_LE(c.size, p.max_size);
    if (i + 1 < chunks.size()) {
      EXPECT_GE(c.size, p.min_size);
    }
    EXPECT_EQ(c.sha256, sha256_hex(std::string_view(data).substr(c.offset, c.size)));
    at += c.size;
  }
  EXPECT_EQ(at, data.size());
  // Normalized chunking keeps random data near the average.
  double mean = static_cast<double>(data.size()) / static_cast<double>(chunks.size());
  EXPECT_GT(mean, p.avg_size * 0.6);
  EXPECT_LT(mean, p.avg_size * 1.6);
}

// The boundaries are part of the format: stores, devices and older
// releases must agree on them. Changing the gear table or the rule breaks
// this on purpose.
TEST(Chunker, BoundariesAreFixedByTheFormat) {
  auto chunks = chunks_of(random_bytes(1 << 20, 1));
  EXPECT_EQ(sha256_hex(encode_chunk_index(chunks)),
            "354290e33c8ad7d9038ce7b78e84ada8610bb88ca53336d0b54b3bacbfe6c4b3");
}

// The format page is enough to cut the same chunks: a second implementation
// written from it alone (tests/signing/gear_cdc_reference.py) agrees, with
// the default sizes and with small ones that make many cuts of each kind.
TEST(Chunker, TheDocumentedAlgorithmGivesTheSameIndex) {
  ::ef::test::TempDir tmp;
  std::string data = random_bytes(600000, 21) + std::string(300000, '\0') + random_bytes(9999, 3);
  auto file = tmp.write("data", data);
  std::string script = std::string(EF_SOURCE_DIR) + "/tests/signing/gear_cdc_reference.py";
  for (ChunkParams p : {ChunkParams{}, ChunkParams{1024, 4096, 16384}}) {
    auto r = ::ef::test::run_command("python3 " + script + " " + file.string() + " " +
                                     std::to_string(p.min_size) + " " + std::to_string(p.avg_size) +
                                     " " + std::to_string(p.max_size));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, encode_chunk_index(chunks_of(data, p))) << p.avg_size;
  }
}

// An insertion re-synchronizes: only the chunks around it change.
TEST(Chunker, AnInsertionChangesOnlyNearbyChunks) {
  std::string a = random_bytes(16 << 20, 5);
  std::string b = a;
  b.insert(8 << 20, random_bytes(100, 9));
  auto ca = chunks_of(a), cb = chunks_of(b);
  auto plan = plan_delta(ca, cb, b.size(), 0);
  EXPECT_LE(plan.download_chunks, 3u) << plan.reason;
  EXPECT_LT(plan.download_bytes, 3u * ChunkParams{}.max_size);
}

TEST(ChunkParamsCheck, RefusesImpossibleSizes) {
  EXPECT_TRUE(ChunkParams{}.check());
  EXPECT_FALSE((ChunkParams{16384, 60000, 262144}).check());    // not a power of two
  EXPECT_FALSE((ChunkParams{0, 65536, 262144}).check());        // min 0
  EXPECT_FALSE((ChunkParams{16384, 65536, 32768}).check());     // max < avg
  EXPECT_FALSE((ChunkParams{16384, 65536, 2u << 20}).check());  // max over the limit
}

class ChunkIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = random_bytes(1 << 20, 2);
    chunks_ = chunks_of(data_);
    ASSERT_GT(chunks_.size(), 4u);
    info_ = describe_chunk_index(chunks_, {});
  }
  // Parses `text` as if the manifest had been signed over it.
  std::string error_for(const std::string& text, uint64_t payload = 1 << 20) {
    ChunkIndexInfo info = info_;
    info.index_size = text.size();
    info.index_sha256 = sha256_hex(text);
    info.count = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
    return error_of(parse_chunk_index(text, info, payload));
  }
  std::string data_;
  std::vector<Chunk> chunks_;
  ChunkIndexInfo info_;
};

TEST_F(ChunkIndexTest, RoundTrips) {
  std::string text = encode_chunk_index(chunks_);
  auto back = parse_chunk_index(text, info_, data_.size());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(encode_chunk_index(*back), text);
  EXPECT_EQ(text.substr(0, 2), "0 ");  // OFFSET SIZE SHA256
}

TEST_F(ChunkIndexTest, RefusesWhatTheSignatureDoesNotCover) {
  std::string text = encode_chunk_index(chunks_);
  std::string altered = text;
  altered[text.size() - 2] = altered[text.size() - 2] == 'a' ? 'b' : 'a';
  EXPECT_NE(error_of(parse_chunk_index(altered, info_, data_.size())).find("sha256 differs"),
            std::string::npos);
  EXPECT_NE(error_of(parse_chunk_index(text + "x", info_, data_.size())).find("bytes where"),
            std::string::npos);
}

TEST_F(ChunkIndexTest, RefusesGapsOverlapsOverrunsAndOversizedChunks) {
  std::string h(64, 'a');
  EXPECT_NE(error_for("0 10 " + h + "\n20 10 " + h + "\n", 30)
                .find("line 2: chunk at 20 where the previous one ends at 10 (gap)"),
            std::string::npos);
  EXPECT_NE(error_for("0 10 " + h + "\n5 25 " + h + "\n", 30).find("(overlap)"), std::string::npos);
  EXPECT_NE(error_for("0 10 " + h + "\n10 30 " + h + "\n", 30)
                .find("line 2: chunk runs to 40, past the payload's 30 bytes"),
            std::string::npos);
  EXPECT_NE(
      error_for("0 300000 " + h + "\n", 300000).find("chunk of 300000 bytes (1 to 262144 allowed)"),
      std::string::npos);
  EXPECT_NE(error_for("0 0 " + h + "\n", 10).find("chunk of 0 bytes"), std::string::npos);
  EXPECT_NE(error_for("0 10 " + h + "\n", 30).find("chunks end at 10, the payload at 30"),
            std::string::npos);
}

TEST_F(ChunkIndexTest, RefusesMalformedLines) {
  std::string h(64, 'a');
  for (std::string bad : std::vector<std::string>{
           "0 10 " + std::string(64, 'A') + "\n", "00 10 " + h + "\n", "0 +10 " + h + "\n",
           "0 10 " + h.substr(1) + "\n", "0 10  " + h + "\n", "0 10\n", "0 10 " + h}) {
    std::string e = error_for(bad, 10);
    EXPECT_NE(e.find("chunk index: line 1"), std::string::npos) << bad << " -> " << e;
  }
}

TEST(ChunkStore, StoresCompressedOnlyWhenSmallerAndChecksEveryByte) {
  std::string random = random_bytes(65536, 4), zeros(65536, '\0');
  Chunk rc{0, 65536, sha256_hex(random)}, zc{0, 65536, sha256_hex(zeros)};
  auto rs = encode_stored_chunk(random), zs = encode_stored_chunk(zeros);
  ASSERT_TRUE(rs && zs);
  EXPECT_EQ(*rs, random);  // zstd does not help: stored as it is
  EXPECT_LT(zs->size(), 1000u);
  EXPECT_EQ(*decode_stored_chunk(*rs, rc), random);
  EXPECT_EQ(*decode_stored_chunk(*zs, zc), zeros);
  EXPECT_EQ(chunk_store_path(rc.sha256), "chunks/" + rc.sha256.substr(0, 4) + "/" + rc.sha256);

  auto refused = [](const std::string& stored, const Chunk& c, const std::string& why) {
    auto r = decode_stored_chunk(stored, c);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::checksum);
    EXPECT_NE(r.error().message().find("chunk " + c.sha256), std::string::npos);
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  };
  std::string flipped = random;
  flipped[100] ^= 1;
  refused(flipped, rc, "sha256 differs");
  refused(random + "x", rc, "more than the chunk");
  refused(zs->substr(0, zs->size() - 3), zc, "zstd frame");
  refused("not a frame", zc, "neither the chunk nor a zstd frame");
  // A frame of more data than the chunk (a decompression bomb) is refused.
  auto bomb = encode_stored_chunk(std::string(1 << 20, '\0'));
  ASSERT_TRUE(bomb);
  refused(*bomb, zc, "holds 1048576 bytes");
}

TEST(DeltaPlan, FetchesEachMissingChunkOnceAndFallsBackToFull) {
  std::string a = random_bytes(2 << 20, 1), b = random_bytes(2 << 20, 2);
  auto ca = chunks_of(a), cb = chunks_of(b);
  auto same = plan_delta(ca, ca, a.size(), 1000);
  EXPECT_EQ(same.download_bytes, 0u);
  EXPECT_EQ(same.reused_chunks, ca.size());
  EXPECT_FALSE(same.full);
  auto other = plan_delta(ca, cb, b.size(), 1000);
  EXPECT_TRUE(other.full) << other.reason;
  EXPECT_NE(other.reason.find("full payload"), std::string::npos);
  // A chunk that repeats in the target is fetched once.
  std::string twice = a.substr(0, 1 << 20) + a.substr(0, 1 << 20);
  auto ct = chunks_of(twice);
  auto p = plan_delta({}, ct, twice.size(), 0);
  EXPECT_LT(p.download_bytes, twice.size());
  EXPECT_EQ(p.sources.size(), ct.size());
}

// After a resume the agent plans only the chunks still missing: fetching
// them is weighed against the whole payload, not against their own sum
// (which a seed without any of them would always "cost as much as").
TEST(DeltaPlan, WeighsWhatIsStillMissingAgainstTheWholePayload) {
  std::string a = random_bytes(2 << 20, 1), b = random_bytes(2 << 20, 2);
  auto cb = chunks_of(b);
  ASSERT_GT(cb.size(), 4u);
  std::vector<Chunk> missing(cb.end() - 2, cb.end());
  auto p = plan_delta(chunks_of(a), missing, b.size(), 1000);
  EXPECT_FALSE(p.full) << p.reason;
  EXPECT_EQ(p.reason.rfind("delta: 2 of 2 chunks", 0), 0u) << p.reason;
  EXPECT_EQ(p.full_bytes, b.size());
  EXPECT_EQ(p.download_bytes, missing[0].size + missing[1].size);
  // The same chunks as the whole payload do cost as much: full.
  EXPECT_TRUE(plan_delta(chunks_of(a), missing, p.download_bytes, 1000).full);
}

// The verity tree (from `computed_from` on) is made on the device: its
// chunks cost no download unless the seed has them anyway.
TEST(DeltaPlan, TheVerityTreeIsComputedNotFetched) {
  std::string a = random_bytes(2 << 20, 1), tree = random_bytes(100000, 3);
  auto seed = chunks_of(a);
  auto target = chunks_of(a + tree);
  uint64_t from = a.size();
  auto p = plan_delta(seed, target, a.size() + tree.size(), 0, from);
  EXPECT_FALSE(p.full) << p.reason;
  uint64_t tree_chunks = 0, tree_bytes = 0, other = 0;
  for (size_t i = 0; i < target.size(); ++i) {
    if (p.sources[i].kind == ChunkSource::Kind::computed) {
      EXPECT_GE(target[i].offset, from);
      ++tree_chunks;
      tree_bytes += target[i].size;
    } else if (p.sources[i].kind == ChunkSource::Kind::download) {
      other += target[i].size;
    }
  }
  EXPECT_GT(tree_chunks, 0u);
  EXPECT_EQ(p.computed_chunks, tree_chunks);
  EXPECT_EQ(p.computed_bytes, tree_bytes);
  EXPECT_EQ(p.download_bytes, other);
  EXPECT_NE(p.reason.find("verity tree"), std::string::npos) << p.reason;
  // Without it, the same chunks are downloads.
  auto all = plan_delta(seed, target, a.size() + tree.size(), 0);
  EXPECT_EQ(all.download_bytes, p.download_bytes + p.computed_bytes);
  EXPECT_EQ(all.computed_chunks, 0u);
}

class BundleChunksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = SigningKey::generate(Algorithm::ed25519);
    ASSERT_TRUE(k);
    key_ = std::make_unique<SigningKey>(std::move(*k));
    image_ = write_image(tmp / "image.squashfs", 600);
  }
  ::ef::test::TempDir tmp;
  std::unique_ptr<SigningKey> key_;
  fs::path image_;
};

TEST_F(BundleChunksTest, TheSignedManifestCoversTheIndexOfThePayload) {
  auto m = create_bundle(inputs_for(image_), {key_.get()}, tmp / "b.efb");
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_TRUE(m->chunks);
  // The fixture image is random bytes, not squashfs: cut as opaque bytes.
  EXPECT_EQ(chunk_algorithm_name(m->chunks->params.algorithm), "gear-cdc-1");
  auto b = Bundle::open(tmp / "b.efb");
  ASSERT_TRUE(b);
  auto parsed = b->manifest();
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_TRUE(parsed->chunks);
  EXPECT_EQ(parsed->chunks->index_sha256, m->chunks->index_sha256);
  auto chunks = chunk_payload(*b, *parsed);
  ASSERT_TRUE(chunks) << chunks.error().message();
  EXPECT_EQ(chunks->size(), m->chunks->count);
  std::string index = encode_chunk_index(*chunks);
  EXPECT_TRUE(parse_chunk_index(index, *parsed->chunks, parsed->payload.size));
  // The same as describing the image without a bundle.
  auto described = describe_payload(image_, ChunkParams{});
  ASSERT_TRUE(described) << described.error().message();
  EXPECT_EQ(encode_chunk_index(described->chunks), index);
  EXPECT_EQ(described->payload.sha256, m->payload.sha256);

  // A bundle without an index still verifies (and says what is missing).
  auto in = inputs_for(image_);
  in.chunking.reset();
  auto plain = create_bundle(in, {key_.get()}, tmp / "plain.efb");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->chunks);
  auto pb = Bundle::open(tmp / "plain.efb");
  ASSERT_TRUE(pb);
  EXPECT_NE(error_of(chunk_payload(*pb, *plain)).find("has no chunk index"), std::string::npos);
}

TEST(ManifestChunks, ImpossibleCountsAndUnknownAlgorithmsAreRefused) {
  BundleManifest m;
  m.product = m.compatible = "p";
  m.version = *SemVer::parse("1.0.0");
  m.image = {4096, std::string(64, 'a')};
  m.verity.data_blocks = 1;
  m.verity.hash_offset = 4096;
  m.verity.tree_size = 4096;
  m.verity.root_hash_hex = std::string(64, 'b');
  m.verity.salt_hex = "00";
  m.payload = {8192, std::string(64, 'c')};
  ChunkIndexInfo c;
  c.count = 1;
  c.index_size = 76;
  c.index_sha256 = std::string(64, 'd');
  m.chunks = c;
  auto bytes = encode_manifest(m);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto back = parse_manifest(*bytes);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->chunks->count, 1u);
  m.chunks->count = 9000;  // more chunks than bytes
  EXPECT_NE(error_of(encode_manifest(m)).find("cannot cover the payload"), std::string::npos);
  m.chunks->count = 1;
  m.chunks->index_size = 1 << 20;
  EXPECT_NE(error_of(encode_manifest(m)).find("indexSize"), std::string::npos);
  // Both algorithms read back; an unknown one is refused.
  EXPECT_EQ(back->chunks->params.algorithm, ChunkAlgorithm::squashfs);
  std::string other = *bytes;
  other.replace(other.find("sqfs-cdc-1"), 10, "gear-cdc-1");
  auto gear = parse_manifest(other);
  ASSERT_TRUE(gear) << gear.error().message();
  EXPECT_EQ(gear->chunks->params.algorithm, ChunkAlgorithm::gear);
  other.replace(other.find("gear-cdc-1"), 10, "gear-cdc-9");
  EXPECT_NE(error_of(parse_manifest(other)).find("chunks.algorithm"), std::string::npos);
}

}  // namespace
}  // namespace ef::signing
