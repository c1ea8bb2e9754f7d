// Writing bundles into slots (files standing in for partitions), from a
// local file and over HTTP with dropped connections, and reading them back.
#include "agent/slot_writer.hpp"

#include <gtest/gtest.h>

#include "tests/signing/bundle_fixture.hpp"
#include "tests/support/http_server.hpp"
#include "util/atomic_file.hpp"
#include "util/file_io.hpp"

namespace ef::agent {
namespace {

namespace fs = std::filesystem;
using namespace signing::fixture;
using test::HttpServer;

class SlotWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
    ASSERT_TRUE(k);
    key_ = std::make_unique<signing::SigningKey>(std::move(*k));
    auto m = signing::create_bundle(inputs_for(write_image(tmp / "image", 2000)), {key_.get()},
                                    tmp / "b.efb");
    ASSERT_TRUE(m) << m.error().message();
    manifest_ = *m;
    bundle_ = *read_file(tmp / "b.efb");
    payload_ = bundle_.substr(bundle_.size() - manifest_.payload.size);
  }

  // A slot file of `size` bytes filled with 0xa5, like a partition with an
  // old image on it.
  fs::path make_slot(uint64_t size) {
    auto path = tmp / "slot";
    EXPECT_TRUE(write_file_atomic(path, std::string(size, '\xa5')));
    return path;
  }

  HttpStreamOptions fast() const {
    HttpStreamOptions o;
    o.backoff = std::chrono::milliseconds(1);
    return o;
  }

  ::ef::test::TempDir tmp;
  std::unique_ptr<signing::SigningKey> key_;
  signing::BundleManifest manifest_;
  std::string bundle_, payload_;
};

TEST_F(SlotWriterTest, LocalBundleIsWrittenAndReadBack) {
  auto slot = make_slot(manifest_.payload.size + 3 * 4096);
  auto source = BundleSource::open((tmp / "b.efb").string());
  ASSERT_TRUE(source) << source.error().message();
  uint64_t last = 0;
  auto w = write_slot(**source, manifest_, slot, [&](uint64_t done, uint64_t) { last = done; });
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(last, manifest_.payload.size);
  auto v = verify_slot(slot, manifest_);
  EXPECT_TRUE(v) << v.error().message();
  auto bytes = *read_file(slot);
  EXPECT_EQ(bytes.size(), manifest_.payload.size + 3 * 4096);  // never grown or truncated
  EXPECT_EQ(bytes.substr(0, payload_.size()), payload_);
  EXPECT_EQ(bytes.substr(payload_.size()), std::string(3 * 4096, '\xa5'));
}

TEST_F(SlotWriterTest, DownloadSurvivesDroppedConnectionsWithoutStoringTheBundle) {
  HttpServer server(bundle_);
  auto source = BundleSource::open(server.url("/b.efb"), fast());
  ASSERT_TRUE(source) << source.error().message();
  EXPECT_EQ((*source)->head().manifest_bytes(),
            bundle_.substr(64, (*source)->head().header().manifest_size));
  int before = server.requests();
  server.script({{HttpServer::Action::close_after, 1500000},
                 {HttpServer::Action::close_after, 2000000},
                 {HttpServer::Action::error_500, 0}});
  auto slot = make_slot(manifest_.payload.size);
  auto w = write_slot(**source, manifest_, slot);
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_TRUE(verify_slot(slot, manifest_));
  EXPECT_EQ(server.requests() - before, 4);
  auto ranges = server.ranges();
  uint64_t base = (*source)->head().header().payload_offset;
  EXPECT_EQ(ranges[before], "bytes=" + std::to_string(base) + "-");
  EXPECT_EQ(ranges[before + 1], "bytes=" + std::to_string(base + 1500000) + "-");
}

TEST_F(SlotWriterTest, ASlotTooSmallIsRefusedBeforeWriting) {
  auto slot = make_slot(manifest_.payload.size - 4096);
  auto source = BundleSource::open((tmp / "b.efb").string());
  ASSERT_TRUE(source);
  auto w = write_slot(**source, manifest_, slot);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message().find("holds " + std::to_string(manifest_.payload.size - 4096) +
                                     " bytes; the bundle needs"),
            std::string::npos)
      << w.error().message();
  EXPECT_EQ(*read_file(slot), std::string(manifest_.payload.size - 4096, '\xa5'));
}

TEST_F(SlotWriterTest, AlteredPayloadIsCaughtOnReadBack) {
  std::string bad = bundle_;
  bad[bad.size() - payload_.size() + 777777] ^= 0x01;
  ASSERT_TRUE(write_file_atomic(tmp / "bad.efb", bad));
  auto source = BundleSource::open((tmp / "bad.efb").string());
  ASSERT_TRUE(source);
  auto slot = make_slot(manifest_.payload.size);
  ASSERT_TRUE(write_slot(**source, manifest_, slot));  // written as it came
  auto altered = verify_slot(slot, manifest_);
  ASSERT_FALSE(altered);
  EXPECT_EQ(altered.error().code(), Errc::checksum);
  EXPECT_NE(altered.error().message().find("payload sha256 does not match the signed manifest"),
            std::string::npos)
      << altered.error().message();

  // A good write, then a bit rots on the device.
  auto good = BundleSource::open((tmp / "b.efb").string());
  ASSERT_TRUE(good);
  ASSERT_TRUE(write_slot(**good, manifest_, slot));
  auto bytes = *read_file(slot);
  bytes[123456] ^= 0x40;
  ASSERT_TRUE(write_file_atomic(slot, bytes));
  auto v = verify_slot(slot, manifest_);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Errc::checksum);
  EXPECT_NE(v.error().message().find("data block 30 "), std::string::npos) << v.error().message();
}

TEST_F(SlotWriterTest, BrokenDownloadsAreOneLineErrors) {
  HttpServer server(bundle_.substr(0, 30));
  auto source = BundleSource::open(server.url(), fast());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().code(), Errc::network);

  HttpServer garbage(std::string(10000, 'x'));
  source = BundleSource::open(garbage.url(), fast());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().code(), Errc::bad_bundle);
  EXPECT_NE(source.error().message().find("no EFBUNDLE magic"), std::string::npos);

  HttpServer cut(bundle_.substr(0, bundle_.size() - 100));
  source = BundleSource::open(cut.url(), fast());
  ASSERT_TRUE(source) << source.error().message();  // the head is whole
  auto slot = make_slot(manifest_.payload.size);
  auto w = write_slot(**source, manifest_, slot);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), Errc::network);
  EXPECT_NE(w.error().message().find("download stopped at byte"), std::string::npos);
}

}  // namespace
}  // namespace ef::agent
