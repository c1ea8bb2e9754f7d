// Parsed device keys by device ID and PEM text: a key the database no
// longer holds is never answered from the cache.
#include "fleet/key_cache.hpp"

#include <gtest/gtest.h>

namespace ef::fleet {
namespace {

signing::SigningKey new_key() {
  auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
  EXPECT_TRUE(k);
  return std::move(*k);
}

TEST(KeyCacheTest, AnswersOnlyForTheSamePemOfTheSameDevice) {
  KeyCache cache;
  auto first = new_key(), second = new_key();
  const std::string pem1 = first.public_key().pem(), pem2 = second.public_key().pem();
  auto a = cache.get("nuc-1", pem1);
  ASSERT_TRUE(a) << a.error().message();
  auto again = cache.get("nuc-1", pem1);
  ASSERT_TRUE(again);
  EXPECT_EQ(a->get(), again->get()) << "parsed once";

  // The device was removed and registered again with another key (on this
  // instance or another): the row's new PEM is parsed, the old key is gone.
  auto b = cache.get("nuc-1", pem2);
  ASSERT_TRUE(b);
  EXPECT_NE(a->get(), b->get());
  auto signature = second.sign("report");
  ASSERT_TRUE(signature);
  EXPECT_TRUE((*b)->verify("report", *signature));
  EXPECT_FALSE((*a)->verify("report", *signature));
  EXPECT_EQ(cache.size(), 1u);

  // Another device with the same PEM text gets its own entry.
  auto c = cache.get("nuc-2", pem2);
  ASSERT_TRUE(c);
  EXPECT_EQ(cache.size(), 2u);

  EXPECT_FALSE(cache.get("nuc-3", "not a key"));
  EXPECT_EQ(cache.size(), 2u);
}

TEST(KeyCacheTest, HoldsAtMostItsCapacity) {
  KeyCache cache(3);
  const std::string pem = new_key().public_key().pem();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cache.get("dev-" + std::to_string(i), pem));
  EXPECT_EQ(cache.size(), 3u);
}

}  // namespace
}  // namespace ef::fleet
