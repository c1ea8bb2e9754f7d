#include "tests/channel/channel_fixture.hpp"

#include <gtest/gtest.h>

#include "util/atomic_file.hpp"

namespace ef::channel::fixture {

Wave percent_wave(std::string name, uint32_t percent, uint64_t soak, uint32_t cap) {
  Wave w;
  w.name = std::move(name);
  w.percent = percent;
  w.soak_seconds = soak;
  w.max_per_hour = cap;
  return w;
}

Wave tag_wave(std::string name, std::map<std::string, std::string> tags) {
  Wave w;
  w.name = std::move(name);
  w.tags = std::move(tags);
  return w;
}

Wave device_wave(std::string name, std::vector<std::string> ids) {
  Wave w;
  w.name = std::move(name);
  w.devices = std::move(ids);
  return w;
}

std::unique_ptr<signing::SigningKey> make_key() {
  auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
  EXPECT_TRUE(k);
  return std::make_unique<signing::SigningKey>(std::move(*k));
}

signing::Keyring make_keyring(const std::filesystem::path& dir,
                              const std::vector<const signing::SigningKey*>& keys) {
  std::filesystem::create_directories(dir);
  for (const auto* key : keys) {
    auto ok =
        write_file_atomic(dir / (key->key_id().substr(0, 16) + ".pub"), key->public_key().pem());
    EXPECT_TRUE(ok);
  }
  auto ring = signing::Keyring::load(dir);
  EXPECT_TRUE(ring) << ring.error().message();
  return std::move(*ring);
}

ChannelDoc sample_doc() {
  ChannelDoc d;
  d.channel = "stable";
  d.version = 3;
  d.issued = kNow;
  d.expires = kNow + 30 * 86400;
  Release r;
  r.product = "quickstart";
  r.compatible = "edgeforge-quickstart";
  r.version = *SemVer::parse("1.2.0");
  r.bundle = Artifact{"bundles/quickstart-1.2.0.efb", std::string(64, 'a'), 200'000'000};
  r.head = Artifact{"quickstart-1.2.0.efbh", std::string(64, 'b'), 90'000};
  d.release = r;
  d.rollout.start = kNow;
  d.rollout.fleet_size = 2000;
  d.rollout.waves = {tag_wave("canary", {{"ring", "canary"}}), device_wave("safe", {"nuc-0001"}),
                     percent_wave("early", 5, 0, 50), percent_wave("quarter", 25, 86400),
                     percent_wave("all", 100, 2 * 86400)};
  return d;
}

}  // namespace ef::channel::fixture
