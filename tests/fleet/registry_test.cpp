// The fleet registry's rules on both engines: SQLite in a file and Debian's
// PostgreSQL 15 started for the test (tests/support/postgres.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fleet/database.hpp"
#include "fleet/registry.hpp"
#include "signing/keys.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/temp_dir.hpp"

namespace ef::fleet {
namespace {

constexpr UnixSeconds kNow = 1796000000;  // 2026-11-30

std::string new_key_pem() {
  auto k = signing::SigningKey::generate(signing::Algorithm::ed25519);
  EXPECT_TRUE(k);
  return k->public_key().pem();
}

class RegistryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      pg = std::make_unique<test::Postgres>(tmp / "pg");
      ASSERT_TRUE(pg->ok()) << pg->log();
      url = pg->url();
    } else {
      url = (tmp / "fleet.sqlite").string();
    }
    auto d = open_database(url);
    ASSERT_TRUE(d) << d.error().message();
    db = std::move(*d);
    registry = std::make_unique<Registry>(*db);
  }

  test::TempDir tmp;
  std::unique_ptr<test::Postgres> pg;
  std::string url;
  std::unique_ptr<Database> db;
  std::unique_ptr<Registry> registry;
};

TEST_P(RegistryTest, OnSiteDevicesWaitForApprovalPreProvisionedOnesDoNot) {
  EXPECT_STREQ(db->engine(), GetParam().c_str());
  auto token = registry->create_token({}, kNow);
  ASSERT_TRUE(token) << token.error().message();
  EXPECT_EQ(token->size(), 64u);

  std::string key = new_key_pem();
  auto s = registry->register_device("nuc-0001", key, *token, kNow);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(*s, DeviceState::unpaired);
  // Reports wait for the operator.
  auto early = registry->accept_report("nuc-0001", 1, "{}", kNow);
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message().find("unpaired"), std::string::npos);
  ASSERT_TRUE(registry->approve("nuc-0001"));
  EXPECT_EQ(registry->device("nuc-0001")->value().state, DeviceState::ready);
  // Registering again with the same key is the same registration.
  EXPECT_EQ(*registry->register_device("nuc-0001", key, *token, kNow), DeviceState::ready);

  // Imported beforehand: ready as soon as it registers.
  EXPECT_EQ(*registry->import_devices({"nuc-0002", "nuc-0003"}, kNow), 2u);
  EXPECT_EQ(*registry->import_devices({"nuc-0002"}, kNow), 0u);
  EXPECT_EQ(registry->device("nuc-0002")->value().state, DeviceState::provisioned);
  EXPECT_FALSE(registry->approve("nuc-0002")) << "nothing to approve before it registers";
  EXPECT_EQ(*registry->register_device("nuc-0002", new_key_pem(), *token, kNow),
            DeviceState::ready);

  // An auto-approve token.
  TokenSpec auto_spec;
  auto_spec.auto_approve = true;
  auto auto_token = registry->create_token(auto_spec, kNow);
  EXPECT_EQ(*registry->register_device("nuc-0004", new_key_pem(), *auto_token, kNow),
            DeviceState::ready);

  auto all = registry->devices();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[2].id, "nuc-0003");
  EXPECT_EQ((*all)[2].state, DeviceState::provisioned);
}

TEST_P(RegistryTest, TokensExpireSingleUseOnesServeOneDeviceAndKeysCannotBeSwapped) {
  TokenSpec once;
  once.single_use = true;
  once.lifetime_seconds = 3600;
  auto token = registry->create_token(once, kNow);
  ASSERT_TRUE(token);
  ASSERT_TRUE(registry->register_device("a", new_key_pem(), *token, kNow));

  struct Case {
    std::string id, token;
    UnixSeconds at;
    std::string says;
  };
  auto other = registry->create_token({}, kNow);
  std::vector<Case> cases = {
      {"b", *token, kNow, "was for one device and is used"},
      {"b", "not-a-token", kNow, "unknown registration token"},
      {"b", *other, kNow + 8 * 86400, "expired at"},
      {"a", *other, kNow, "registered with another key"},
  };
  for (const auto& c : cases) {
    auto r = registry->register_device(c.id, new_key_pem(), c.token, c.at);
    ASSERT_FALSE(r) << c.says;
    EXPECT_EQ(r.error().code(), Errc::refused);
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(registry->device("b")->has_value()) << "nothing registered by a refusal";

  auto bad_key = registry->register_device("c", "not a key", *other, kNow);
  ASSERT_FALSE(bad_key);
  EXPECT_NE(bad_key.error().message().find("not an Ed25519 key"), std::string::npos);
  auto bad_id = registry->register_device("../etc", new_key_pem(), *other, kNow);
  ASSERT_FALSE(bad_id);
  EXPECT_NE(bad_id.error().message().find("device ID"), std::string::npos);
}

TEST_P(RegistryTest, ReportsAreTakenOnceInOrderAndAReplayChangesNothing) {
  TokenSpec spec;
  spec.auto_approve = true;
  auto token = registry->create_token(spec, kNow);
  ASSERT_TRUE(registry->register_device("nuc-1", new_key_pem(), *token, kNow));
  ASSERT_TRUE(registry->accept_report("nuc-1", 1, R"({"version":"1.0.0"})", kNow + 10));
  ASSERT_TRUE(registry->accept_report("nuc-1", 5, R"({"version":"2.0.0"})", kNow + 20));
  for (int64_t seq : {5, 3, 0, -1}) {
    auto r = registry->accept_report("nuc-1", seq, R"({"version":"0.9.0"})", kNow + 30);
    ASSERT_FALSE(r) << seq;
    EXPECT_NE(r.error().message().find("is not after report 5"), std::string::npos)
        << r.error().message();
  }
  auto d = registry->device("nuc-1");
  ASSERT_TRUE(d && *d);
  EXPECT_EQ((*d)->last_seq, 5);
  EXPECT_EQ((*d)->status, R"({"version":"2.0.0"})");
  EXPECT_EQ((*d)->last_report, kNow + 20);
  auto count = db->query("SELECT COUNT(*) FROM reports WHERE device_id = $1", {"nuc-1"});
  ASSERT_TRUE(count);
  EXPECT_EQ((*count)[0].integer(0), 2);
  EXPECT_FALSE(registry->accept_report("ghost", 1, "{}", kNow));
}

TEST_P(RegistryTest, ConcurrentReportsOfOneDeviceAreEachTakenAtMostOnce) {
  TokenSpec spec;
  spec.auto_approve = true;
  auto token = registry->create_token(spec, kNow);
  ASSERT_TRUE(registry->register_device("nuc-1", new_key_pem(), *token, kNow));
  // Four threads send the same 50 sequence numbers: every number is taken
  // at most once and the device ends at the highest.
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int64_t seq = 1; seq <= 50; ++seq)
        if (registry->accept_report("nuc-1", seq, "{}", kNow)) ++taken;
    });
  for (auto& t : threads) t.join();
  auto count = db->query("SELECT COUNT(*), COUNT(DISTINCT seq) FROM reports");
  ASSERT_TRUE(count);
  EXPECT_EQ((*count)[0].integer(0), taken.load());
  EXPECT_EQ((*count)[0].integer(1), taken.load());
  EXPECT_EQ(registry->device("nuc-1")->value().last_seq, 50);
}

TEST_P(RegistryTest, ASecondInstanceSharesTheDatabase) {
  // Two service instances: the schema is made once, each sees the other's rows.
  auto second = open_database(url);
  ASSERT_TRUE(second) << second.error().message();
  Registry other(**second);
  auto token = registry->create_token({}, kNow);
  ASSERT_TRUE(other.register_device("nuc-9", new_key_pem(), *token, kNow));
  EXPECT_TRUE(registry->device("nuc-9")->has_value());
}

// Reports are answered before PostgreSQL's WAL flush; everything else,
// and whatever runs inside a transaction, waits for it.
TEST_P(RegistryTest, OnlyRelaxedStatementsSkipTheFlush) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "SQLite: WAL with synchronous=NORMAL throughout";
  auto setting = [](const Result<std::vector<Row>>& rows) {
    EXPECT_TRUE(rows) << rows.error().message();
    return rows && !rows->empty() ? (*rows)[0].text(0) : "";
  };
  EXPECT_EQ(setting(db->query_relaxed("SHOW synchronous_commit")), "off");
  EXPECT_EQ(setting(db->query("SHOW synchronous_commit")), "on");
  EXPECT_EQ(setting(db->query_relaxed("SHOW synchronous_commit")), "off");
  std::string inside;
  ASSERT_TRUE(db->transaction([&]() -> Result<void> {
    inside = setting(db->query_relaxed("SHOW synchronous_commit"));
    return Ok{};
  }));
  EXPECT_EQ(inside, "on");
  // The registry's report statement is one of them, and is taken.
  auto token = registry->create_token({}, kNow);
  ASSERT_TRUE(registry->import_devices({"nuc-1"}, kNow));
  ASSERT_TRUE(registry->register_device("nuc-1", new_key_pem(), *token, kNow));
  ASSERT_TRUE(registry->accept_report("nuc-1", 1, "{}", kNow));
  EXPECT_EQ((*registry->device("nuc-1"))->last_seq, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, RegistryTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

TEST(DatabaseTest, ABadLocationIsOneLine) {
  auto r = open_database("/nonexistent/dir/fleet.sqlite");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::database);
  EXPECT_NE(r.error().message().find("/nonexistent/dir/fleet.sqlite"), std::string::npos);
  auto pg = open_database("postgresql://127.0.0.1:1/fleet?connect_timeout=2");
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.error().code(), Errc::database);
  EXPECT_EQ(pg.error().message().find('\n'), std::string::npos) << pg.error().message();
}

}  // namespace
}  // namespace ef::fleet
