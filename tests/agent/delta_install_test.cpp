// Delta installs from a chunk store: a real static web server (python3's
// http.server) for the happy path and the resume, the project's scripted
// server for a hostile store. Slots are files; the "booted" slot holds v1.
#include "agent/delta_install.hpp"
#include "agent/slot_chunks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "builder/publish/publish.hpp"
#include "signing/chunk_store.hpp"
#include "tests/signing/bundle_fixture.hpp"
#include "tests/support/command.hpp"
#include "tests/support/http_server.hpp"
#include "tests/support/registry.hpp"
#include "tests/support/static_server.hpp"
#include "util/atomic_file.hpp"
#include "util/oci_registry.hpp"
#include "util/sha256.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using namespace signing::fixture;
using test::HttpServer;
using test::StaticServer;

constexpr size_t kBlocks = 1500;  // 6 MiB images

// An image that starts like a squashfs superblock (so a seed slot's length
// is found) and is otherwise the fixture's pseudo-random bytes.
std::string image(uint32_t seed) {
  std::string b = image_bytes(kBlocks, 1);
  if (seed != 1) {
    // v2: one region rewritten and one grown by a few bytes (what a changed
    // file does to the blocks after it), same total size.
    std::string changed = image_bytes(3, seed);
    b.replace(2 << 20, changed.size(), changed);
    b.insert(4 << 20, "a few inserted bytes");
    b.resize(kBlocks * 4096);
  }
  b.replace(0, 4, "hsqs");
  uint64_t used = b.size();
  for (int i = 0; i < 8; ++i) b[40 + i] = static_cast<char>(used >> (8 * i));
  return b;
}

class DeltaInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
    ASSERT_TRUE(k);
    key_ = std::make_unique<signing::SigningKey>(std::move(*k));
    keyring_ = write_keyring(tmp / "keyring", {key_.get()});
    for (auto [name, seed] : {std::pair{"v1", 1u}, std::pair{"v2", 2u}}) {
      tmp.write(std::string(name) + ".img", image(seed));
      auto in = inputs_for(tmp / (std::string(name) + ".img"));
      in.version = *SemVer::parse(name == std::string("v1") ? "1.4.0" : "1.5.0");
      auto m = signing::create_bundle(in, {key_.get()}, tmp / (std::string(name) + ".efb"));
      ASSERT_TRUE(m) << m.error().message();
      manifests_.push_back(*m);
    }
    auto bundle = *read_file(tmp / "v1.efb");
    // The booted slot holds v1's payload; the other slot an old image.
    booted_ = tmp / "slot-a";
    target_ = tmp / "slot-b";
    ASSERT_TRUE(write_file_atomic(
        booted_,
        bundle.substr(bundle.size() - manifests_[0].payload.size) + std::string(1 << 20, 0)));
    ASSERT_TRUE(
        write_file_atomic(target_, std::string(manifests_[1].payload.size + (1 << 20), '\xa5')));
    ASSERT_TRUE(publish::publish_to_dir(tmp / "v1.efb", tmp / "store"));
    ASSERT_TRUE(publish::publish_to_dir(tmp / "v2.efb", tmp / "store"));
    booted_before_ = *read_file(booted_);
  }

  SlotInstallOptions options(const std::string& head) {
    SlotInstallOptions o;
    o.bundle = head;
    o.slot = target_;
    o.keyring = keyring_;
    o.seeds = {{booted_, {}}};
    o.http.backoff = std::chrono::milliseconds(1);
    o.http.retries = 2;
    return o;
  }
  std::string v2_payload() {
    auto b = *read_file(tmp / "v2.efb");
    return b.substr(b.size() - manifests_[1].payload.size);
  }
  void expect_target_is_v2() {
    auto slot = *read_file(target_);
    EXPECT_EQ(slot.substr(0, manifests_[1].payload.size), v2_payload());
  }
  std::vector<signing::Chunk> v2_chunks() {
    auto b = signing::Bundle::open(tmp / "v2.efb");
    EXPECT_TRUE(b);
    auto chunks = signing::chunk_payload(*b, manifests_[1]);
    EXPECT_TRUE(chunks);
    return chunks ? *chunks : std::vector<signing::Chunk>{};
  }
  static std::string chunk_path(const signing::Chunk& c) {
    return signing::chunk_store_path(c.sha256);
  }
  // What the issue requires whatever went wrong: the booted slot untouched.
  void expect_booted_untouched() { EXPECT_EQ(*read_file(booted_), booted_before_); }

  ::ef::test::TempDir tmp;
  std::unique_ptr<signing::SigningKey> key_;
  fs::path keyring_, booted_, target_;
  std::vector<signing::BundleManifest> manifests_;
  std::string booted_before_;
};

TEST_F(DeltaInstallTest, FetchesOnlyWhatTheBootedSlotLacksFromAStaticWebServer) {
  StaticServer server(tmp / "store", tmp / "http.log");
  uint64_t last = 0;
  auto o = options(server.url("/test-1.5.0.efbh"));
  o.bundle = server.url("/" + publish::head_file_name("store-edge", "1.5.0"));
  o.progress = [&](uint64_t done, uint64_t) { last = done; };
  auto r = install_delta_to_slot(o);
  ASSERT_TRUE(r) << r.error().message();
  const DeltaStats& d = r->delta;
  EXPECT_TRUE(d.used);
  EXPECT_FALSE(d.full) << d.plan;
  EXPECT_GT(d.seeded_chunks, d.chunks / 2) << d.plan;
  EXPECT_LT(d.fetched_bytes, manifests_[1].payload.size / 4) << d.plan;
  EXPECT_EQ(static_cast<uint64_t>(server.count("\"GET /chunks/")), d.fetched_chunks);
  EXPECT_EQ(last, manifests_[1].payload.size);
  expect_target_is_v2();
  expect_booted_untouched();

  // Again: everything is in the target slot already, nothing is fetched.
  auto again = install_delta_to_slot(o);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->delta.in_target_chunks, again->delta.chunks);
  EXPECT_EQ(again->delta.fetched_chunks, 0u);
}

// The release's verity tree is built from the image in the slot and
// checked against the signed root hash: its chunks are never fetched (a
// store without them serves the upgrade).
TEST_F(DeltaInstallTest, TheVerityTreeIsBuiltOnTheDeviceNotFetched) {
  uint64_t tree_chunks = 0, tree_bytes = 0;
  std::set<std::string> image_shas;
  auto chunks = v2_chunks();
  for (const auto& c : chunks)
    if (c.offset < manifests_[1].image.size) image_shas.insert(c.sha256);
  for (const auto& c : chunks) {
    if (c.offset < manifests_[1].image.size) continue;
    ++tree_chunks;
    tree_bytes += c.size;
    if (!image_shas.count(c.sha256)) fs::remove(tmp / "store" / chunk_path(c));
  }
  ASSERT_GT(tree_chunks, 0u);
  StaticServer server(tmp / "store", tmp / "http.log");
  auto o = options(server.url("/" + publish::head_file_name("store-edge", "1.5.0")));
  auto r = install_delta_to_slot(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->delta.computed_chunks, tree_chunks) << r->delta.plan;
  EXPECT_EQ(r->delta.computed_bytes, tree_bytes);
  EXPECT_NE(r->delta.plan.find("verity tree"), std::string::npos) << r->delta.plan;
  EXPECT_EQ(static_cast<uint64_t>(server.count("\"GET /chunks/")), r->delta.fetched_chunks);
  expect_target_is_v2();
  expect_booted_untouched();
}

TEST_F(DeltaInstallTest, AnInterruptedInstallResumesWithoutRefetching) {
  HttpServer server("");
  auto serve = [&](const fs::path& rel) {
    server.route("/" + rel.string(), *read_file(tmp / "store" / rel));
  };
  std::string head = publish::head_file_name("store-edge", "1.5.0");
  serve(head);
  std::vector<std::string> chunk_paths;
  for (auto& e : fs::recursive_directory_iterator(tmp / "store" / "chunks"))
    if (e.is_regular_file()) chunk_paths.push_back(fs::relative(e.path(), tmp / "store").string());
  for (const auto& p : chunk_paths) serve(p);
  // Without a seed everything comes from the store; one chunk is missing
  // the first time (the link dropped), so the first try fails.
  auto o = options(server.url("/" + head));
  o.seeds.clear();
  o.parallel_fetches = 1;
  // One fetch at a time, in sha256 order, and the first failure stops the
  // rest: the missing chunk is the image's last in that order (the tree's
  // chunks are computed, never fetched).
  std::string last;
  for (const auto& c : v2_chunks())
    if (c.offset < manifests_[1].image.size) last = std::max(last, chunk_path(c));
  std::string missing = "/" + last;
  server.route_status(missing, 404);
  auto first = install_delta_to_slot(o);
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message().find(missing), std::string::npos) << first.error().message();
  EXPECT_NE(first.error().message().find("HTTP 404"), std::string::npos) << first.error().message();
  // The link is back: the retry fetches only the missing chunk.
  server.route_status(missing, 0);
  auto second = install_delta_to_slot(o);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->delta.fetched_chunks, 1u);
  // The verity tree is built after the downloads: the first try got no further.
  EXPECT_EQ(second->delta.in_target_chunks + 1 + second->delta.computed_chunks,
            second->delta.chunks);
  expect_target_is_v2();
  expect_booted_untouched();
}

// Each slot's chunk index is kept beside the journal: after a delta
// install the release's (the slot holds exactly that), after cutting a seed
// the seed's. The next install reads them instead of reading and hashing
// whole slots; a kept index that lies or is damaged costs downloads, never
// a wrong slot.
TEST_F(DeltaInstallTest, KeptChunkIndexesSpareReadingTheSlotsAndAreOnlyHints) {
  const fs::path seed_kept = tmp / "state" / "slot-a.chunks";
  const fs::path target_kept = tmp / "state" / "slot-b.chunks";
  auto o = options((tmp / "store" / publish::head_file_name("store-edge", "1.5.0")).string());
  o.seeds = {{booted_, seed_kept}};
  o.target_chunks = target_kept;
  const uint64_t v1_payload = manifests_[0].payload.size,
                 v2_payload_size = manifests_[1].payload.size;

  // First install: nothing kept, the seed is cut (and its index kept), the
  // target's old bytes are all read; v2's index is kept for the target.
  auto first = install_delta_to_slot(o);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->delta.seeds_from_kept_index, 0u);
  EXPECT_GE(first->delta.scanned_bytes, v1_payload + v2_payload_size);
  expect_target_is_v2();
  auto seed_index =
      load_slot_chunks(seed_kept, manifests_[1].chunks->params, manifests_[0].image.size);
  ASSERT_TRUE(seed_index);
  auto v1_bundle = signing::Bundle::open(tmp / "v1.efb");
  ASSERT_TRUE(v1_bundle);
  auto v1_chunks = signing::chunk_payload(*v1_bundle, manifests_[0]);
  ASSERT_TRUE(v1_chunks);
  ASSERT_EQ(seed_index->chunks.size(), v1_chunks->size());
  for (size_t i = 0; i < v1_chunks->size(); ++i)
    EXPECT_EQ(seed_index->chunks[i].sha256, (*v1_chunks)[i].sha256) << i;
  auto target_index =
      load_slot_chunks(target_kept, manifests_[1].chunks->params, manifests_[1].image.size);
  ASSERT_TRUE(target_index);
  EXPECT_EQ(target_index->chunks.size(), v2_chunks().size());

  // Again, onto a target that lost one chunk: both indexes are used, no
  // slot is cut; only the chunks the target's index lists are read.
  auto chunks = v2_chunks();
  const signing::Chunk& lost = chunks.at(2);
  std::string slot = *read_file(target_);
  slot.replace(lost.offset, lost.size, lost.size, '\xa5');
  ASSERT_TRUE(write_file_atomic(target_, slot));
  auto second = install_delta_to_slot(o);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->delta.seeds_from_kept_index, 1u);
  EXPECT_LE(second->delta.scanned_bytes, v2_payload_size);
  EXPECT_EQ(second->delta.in_target_chunks + 1, second->delta.chunks);
  expect_target_is_v2();

  // A target that no longer holds what its index says (written by hand),
  // and a seed index that lies about the seed (v2's chunks for a v1 slot):
  // the listed chunks are read, fail their check, and come from the store.
  ASSERT_TRUE(write_file_atomic(target_, std::string(v2_payload_size + (1 << 20), '\xa5')));
  ASSERT_TRUE(keep_slot_chunks(target_kept, *target_index));
  SlotChunks lie = *target_index;
  lie.image_size = manifests_[0].image.size;
  ASSERT_TRUE(keep_slot_chunks(seed_kept, lie));
  auto third = install_delta_to_slot(o);
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ(third->delta.seeds_from_kept_index, 1u);
  EXPECT_EQ(third->delta.in_target_chunks, 0u);
  expect_target_is_v2();

  // A damaged index is not used: the seed is cut again, its index rewritten.
  std::string damaged = *read_file(seed_kept);
  damaged[damaged.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(seed_kept, damaged));
  ASSERT_TRUE(write_file_atomic(target_, std::string(v2_payload_size + (1 << 20), '\xa5')));
  auto fourth = install_delta_to_slot(o);
  ASSERT_TRUE(fourth) << fourth.error().message();
  EXPECT_EQ(fourth->delta.seeds_from_kept_index, 0u);
  EXPECT_GT(fourth->delta.seeded_chunks, fourth->delta.chunks / 2) << fourth->delta.plan;
  expect_target_is_v2();
  expect_booted_untouched();
  EXPECT_TRUE(load_slot_chunks(seed_kept, manifests_[1].chunks->params, manifests_[0].image.size));

  // A failed install leaves no index claiming the target holds anything.
  o.bundle = (tmp / "no-such.efbh").string();
  EXPECT_FALSE(install_delta_to_slot(o));
  EXPECT_TRUE(fs::exists(target_kept));  // nothing was accepted, nothing written
  fs::remove(tmp / "store" / chunk_path(lost));
  ASSERT_TRUE(write_file_atomic(target_, std::string(v2_payload_size + (1 << 20), '\xa5')));
  o.bundle = (tmp / "store" / publish::head_file_name("store-edge", "1.5.0")).string();
  o.seeds.clear();
  EXPECT_FALSE(install_delta_to_slot(o));
  EXPECT_FALSE(fs::exists(target_kept));

  // A full bundle carries no index: the target's kept one goes with the
  // first byte written.
  ASSERT_TRUE(keep_slot_chunks(target_kept, *target_index));
  o.bundle = (tmp / "v2.efb").string();
  auto full = install_to_slot(o);
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_FALSE(fs::exists(target_kept));
  expect_target_is_v2();
}

// A retry that lacks one chunk the booted slot does not hold is a delta of
// one chunk, not "full payload": the plan weighs what is still missing
// against the whole payload, not against itself.
TEST_F(DeltaInstallTest, ARetryThatLacksOneChunkIsADeltaNotAFullPayload) {
  auto chunks = v2_chunks();
  const signing::Chunk& lost = chunks.at(1);
  std::string slot = v2_payload() + std::string(1 << 20, '\xa5');
  slot.replace(lost.offset, lost.size, lost.size, '\xa5');
  ASSERT_TRUE(write_file_atomic(target_, slot));
  auto o = options((tmp / "store" / publish::head_file_name("store-edge", "1.5.0")).string());
  o.seeds.clear();  // nothing to copy: every missing chunk is a download
  auto r = install_delta_to_slot(o);
  ASSERT_TRUE(r) << r.error().message();
  const DeltaStats& d = r->delta;
  EXPECT_FALSE(d.full) << d.plan;
  EXPECT_EQ(d.plan.rfind("delta: 1 of 1 chunks", 0), 0u) << d.plan;
  EXPECT_EQ(d.fetched_chunks, 1u);
  EXPECT_EQ(d.in_target_chunks + 1, d.chunks);
  expect_target_is_v2();
  expect_booted_untouched();
}

// A power cut while the tree was being written (or before it was synced):
// the retry keeps the tree chunks the slot holds intact, fetches nothing
// for the rest of the tree (the store no longer has its chunks), rebuilds
// it and checks it.
TEST_F(DeltaInstallTest, APowerCutInTheTreeIsRepairedByBuildingItAgain) {
  auto chunks = v2_chunks();
  const uint64_t image_size = manifests_[1].image.size;
  std::set<std::string> image_shas;
  for (const auto& c : chunks)
    if (c.offset < image_size) image_shas.insert(c.sha256);
  const signing::Chunk* lost_tree = nullptr;
  for (const auto& c : chunks) {
    if (c.offset < image_size || image_shas.count(c.sha256)) continue;
    if (lost_tree == nullptr) lost_tree = &c;
    fs::remove(tmp / "store" / chunk_path(c));
  }
  ASSERT_NE(lost_tree, nullptr);
  const signing::Chunk& lost_image = chunks.at(1);
  ASSERT_LT(lost_image.offset + lost_image.size, image_size);
  // The slot holds v2 but for one image chunk and one tree chunk.
  std::string slot = v2_payload() + std::string(1 << 20, '\xa5');
  for (const auto* c : {&lost_image, lost_tree}) slot.replace(c->offset, c->size, c->size, '\xa5');
  ASSERT_TRUE(write_file_atomic(target_, slot));

  auto o = options((tmp / "store" / publish::head_file_name("store-edge", "1.5.0")).string());
  o.seeds.clear();
  auto r = install_delta_to_slot(o);
  ASSERT_TRUE(r) << r.error().message();
  const DeltaStats& d = r->delta;
  EXPECT_EQ(d.fetched_chunks, 1u) << d.plan;
  EXPECT_EQ(d.computed_chunks, 1u) << d.plan;
  EXPECT_EQ(d.computed_bytes, lost_tree->size);
  EXPECT_EQ(d.in_target_chunks + 2, d.chunks);
  expect_target_is_v2();
  expect_booted_untouched();
}

// The tree built from the image (every chunk of which the signed index
// vouches for) must give the signed root hash: a release whose manifest
// names another root hash fails there, with the slot left inactive.
TEST_F(DeltaInstallTest, ATreeThatDoesNotGiveTheSignedRootHashFailsTheInstall) {
  signing::BundleManifest m = manifests_[1];
  char& last = m.verity.root_hash_hex.back();
  last = last == '0' ? '1' : '0';
  auto bytes = signing::encode_manifest(m);
  ASSERT_TRUE(bytes) << bytes.error().message();
  tmp.write("bad-root.efb", assemble(*bytes, sign_block(*key_, *bytes), v2_payload()));
  ASSERT_TRUE(publish::publish_to_dir(tmp / "bad-root.efb", tmp / "bad-store"));
  auto o = options((tmp / "bad-store" / publish::head_file_name("store-edge", "1.5.0")).string());
  auto r = install_delta_to_slot(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::checksum);
  EXPECT_NE(r.error().message().find("does not give the signed root hash"), std::string::npos)
      << r.error().message();
  expect_booted_untouched();
}

TEST_F(DeltaInstallTest, AHostileStoreEndsInOneLineAndLeavesTheBootedSlotAlone) {
  std::string head = publish::head_file_name("store-edge", "1.5.0");
  auto head_bytes = *read_file(tmp / "store" / head);
  auto index_at = head_bytes.size() - manifests_[1].chunks->index_size;
  auto first_chunk = [&]() {
    std::string line = head_bytes.substr(index_at, head_bytes.find('\n', index_at) - index_at);
    return line.substr(line.rfind(' ') + 1);
  };
  std::string sha = first_chunk();
  std::string path = "/" + signing::chunk_store_path(sha);

  struct Case {
    std::string name;
    std::function<void(HttpServer&)> setup;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"wrong bytes", [&](HttpServer& s) { s.route(path, std::string(100, 'x')); },
       "fetched twice"},
      {"more bytes than the chunk", [&](HttpServer& s) { s.route(path, std::string(300000, 'x')); },
       "more than the"},
      {"404", [&](HttpServer& s) { s.route_status(path, 404); }, "HTTP 404"},
      {"401", [&](HttpServer& s) { s.route_status(path, 401); }, "HTTP 401"},
      {"500", [&](HttpServer& s) { s.route_status(path, 500); }, "HTTP 500"},
      {"redirect elsewhere",
       [&](HttpServer& s) { s.route_status(path, 302, "http://127.0.0.2:1/x"); },
       "redirected to another host"},
      {"altered index",
       [&](HttpServer& s) {
         std::string h = head_bytes;
         h[index_at + 2] = h[index_at + 2] == '1' ? '2' : '1';
         s.route("/" + head, h);
       },
       "sha256 differs from the manifest's"},
      {"bad signature",
       [&](HttpServer& s) {
         std::string h = head_bytes;
         h[80] = static_cast<char>(h[80] ^ 1);
         s.route("/" + head, h);
       },
       "no valid signature"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    HttpServer server("");
    server.route("/" + head, head_bytes);
    for (auto& e : fs::recursive_directory_iterator(tmp / "store" / "chunks"))
      if (e.is_regular_file())
        server.route("/" + fs::relative(e.path(), tmp / "store").string(), *read_file(e.path()));
    c.setup(server);
    auto o = options(server.url("/" + head));
    o.seeds.clear();  // every chunk from the store
    auto r = install_delta_to_slot(o);
    ASSERT_FALSE(r);
    std::string msg = r.error().message();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    if (c.name != "altered index" && c.name != "bad signature") {
      EXPECT_NE(msg.find(sha), std::string::npos) << msg;
    }
    expect_booted_untouched();
  }
}

// A real OCI registry (Debian's docker-registry on 127.0.0.1) behind basic
// auth: the release is pushed as blobs and a tagged artifact, the device
// logs in from its Docker config and pulls only the blobs it lacks.
TEST_F(DeltaInstallTest, FromAnOciRegistryWithALogin) {
  test::Registry registry(tmp / "registry", "fleet", "s3cret");
  ASSERT_TRUE(registry.ok()) << *read_file(registry.log());
  OciReference ref = *parse_oci_reference("oci://" + registry.host() + "/edge/store-edge");
  {
    OciRegistry push(ref, {"fleet", "s3cret"}, {});
    ASSERT_TRUE(publish::publish_to_oci(tmp / "v2.efb", push));
  }
  std::string location = ref.str() + ":1.5.0";
  auto o = options(location);

  // Without a login the registry's 401 is one line that says what to do.
  auto anonymous = install_delta_to_slot(o);
  ASSERT_FALSE(anonymous);
  EXPECT_NE(anonymous.error().message().find("HTTP 401"), std::string::npos)
      << anonymous.error().message();
  EXPECT_NE(anonymous.error().message().find("docker login"), std::string::npos);

  tmp.write("docker/config.json", "{\"auths\":{\"" + registry.host() +
                                      "\":{\"auth\":\"ZmxlZXQ6czNjcmV0\"}}}");  // fleet:s3cret
  ::setenv("DOCKER_CONFIG", (tmp / "docker").c_str(), 1);
  int before = registry.requests("GET", "/blobs/sha256:");
  auto r = install_delta_to_slot(o);
  ::unsetenv("DOCKER_CONFIG");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_GT(r->delta.seeded_chunks, r->delta.chunks / 2) << r->delta.plan;
  // The head blob and the missing chunks: nothing else was fetched.
  int blob_gets = registry.requests("GET", "/blobs/sha256:") - before;
  EXPECT_EQ(static_cast<uint64_t>(blob_gets), r->delta.fetched_chunks + 1)
      << *read_file(registry.log());
  expect_target_is_v2();
  expect_booted_untouched();
}

}  // namespace
}  // namespace ef::agent
