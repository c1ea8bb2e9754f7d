// spec.agent: defaults, strict parsing with exact locations, extends merging.
#include <gtest/gtest.h>

#include "tests/profile/profile_fixture.hpp"

namespace ef::profile {
namespace {

constexpr Errc kInvalid = Errc::invalid_profile;

int col(std::string_view line, std::string_view token) {
  return static_cast<int>(line.find(token)) + 1;
}

TEST_F(ProfileTest, AgentDefaults) {
  auto r = load_with_base("");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->agent.enabled);
  EXPECT_EQ(r->agent.tries, 3);
  EXPECT_EQ(r->agent.health_timeout_seconds, 300);
  EXPECT_FALSE(r->agent.health_units.has_value());  // the build picks the distribution's unit
  EXPECT_TRUE(r->agent.health_commands.empty());
  EXPECT_TRUE(r->agent.keyring.empty());
  EXPECT_TRUE(r->agent.revoked.empty());
}

TEST_F(ProfileTest, AgentAllKeys) {
  tmp.write("keys/extra.pub", "pem");
  const std::string id(64, 'a');
  auto r = load_with_base(
      "  agent:\n"
      "    enabled: true\n"
      "    tries: 2\n"
      "    keyring: [keys/extra.pub]\n"
      "    revoked: [" +
      id +
      "]\n"
      "    health:\n"
      "      timeoutSeconds: 120\n"
      "      units: [k3s.service, containerd.service]\n"
      "      commands:\n"
      "        - {run: \"curl -fsS http://127.0.0.1:6443/readyz\", timeoutSeconds: 10}\n"
      "        - {run: \"true\"}\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& a = r->agent;
  EXPECT_EQ(a.tries, 2);
  ASSERT_EQ(a.keyring.size(), 1u);
  EXPECT_EQ(a.keyring[0], tmp / "keys/extra.pub");
  EXPECT_EQ(a.revoked, std::vector<std::string>{id});
  EXPECT_EQ(a.health_timeout_seconds, 120);
  EXPECT_EQ(*a.health_units, (std::vector<std::string>{"k3s.service", "containerd.service"}));
  ASSERT_EQ(a.health_commands.size(), 2u);
  EXPECT_EQ(a.health_commands[0].run, "curl -fsS http://127.0.0.1:6443/readyz");
  EXPECT_EQ(a.health_commands[0].timeout_seconds, 10);
  EXPECT_EQ(a.health_commands[1].timeout_seconds, 30);

  r = load_with_base("  agent: {enabled: false, health: {units: []}}\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->agent.enabled);
  ASSERT_TRUE(r->agent.health_units.has_value());
  EXPECT_TRUE(r->agent.health_units->empty());  // explicitly none
}

TEST_F(ProfileTest, AgentErrors) {
  std::string line = "  agent: {enable: false}";
  EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid,
                       at("demo.yaml", 9, col(line, "enable")),
                       "unknown key 'enable' in spec.agent (expected one of: enabled, tries, "
                       "keyring, revoked, health, updates)");
  line = "  agent: {enabled: yes}";
  EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid, at("demo.yaml", 9, col(line, "yes")),
                       "spec.agent.enabled: expected true or false, got a string \"yes\"");
  for (const char* tries : {"0", "4"}) {
    line = std::string("  agent: {tries: ") + tries + "}";
    EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid,
                         at("demo.yaml", 9, col(line, tries)),
                         std::string("spec.agent.tries: ") + tries + " is out of range (1..3)");
  }
  line = "  agent: {tries: three}";
  EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid,
                       at("demo.yaml", 9, col(line, "three")),
                       "spec.agent.tries: expected an integer, got a string \"three\"");
  line = "  agent: {keyring: [keys/missing.pub]}";
  auto r = load_with_base(line + "\n");
  EXPECT_PROFILE_ERROR(
      r, Errc::not_found, at("demo.yaml", 9, col(line, "keys/")),
      "spec.agent.keyring[0]: public key file not found: " + (tmp / "keys/missing.pub").string());
  line = "  agent: {keyring: keys/extra.pub}";
  EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid,
                       at("demo.yaml", 9, col(line, "keys/")),
                       "spec.agent.keyring: expected a sequence, got a string \"keys/extra.pub\"");
  line = "  agent: {revoked: [ABC]}";
  EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid, at("demo.yaml", 9, col(line, "ABC")),
                       "spec.agent.revoked[0]: expected a key ID (64 lower-case hex digits, as "
                       "`edgeforge keygen` prints), got \"ABC\"");
  r = load_with_base("  agent:\n    health:\n      units: [k3s]\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, 15),
                       "spec.agent.health.units[0]: expected a systemd unit name like "
                       "k3s.service, got \"k3s\"");
  r = load_with_base("  agent:\n    health:\n      commands:\n        - {timeoutSeconds: 5}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 12, 11),
                       "spec.agent.health.commands[0]: missing required key 'run'");
  r = load_with_base("  agent:\n    health:\n      timeoutSeconds: 0\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 11, 23),
                       "spec.agent.health.timeoutSeconds: 0 is out of range (1..86400)");
  r = load_with_base("  agent:\n    health: {unit: [a.service]}\n");
  EXPECT_PROFILE_ERROR(r, kInvalid, at("demo.yaml", 10, 14),
                       "unknown key 'unit' in spec.agent.health (expected one of: "
                       "timeoutSeconds, units, commands)");
  line = "  agent: {updates: {interval: 30s}}";
  EXPECT_PROFILE_ERROR(
      load_with_base(line + "\n"), kInvalid, at("demo.yaml", 9, col(line, "30s")),
      "spec.agent.updates.interval: expected a duration from 1m to 7d, got \"30s\"");
  line = "  agent: {updates: {jitter: soon}}";
  r = load_with_base(line + "\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("spec.agent.updates.jitter: "), std::string::npos)
      << r.error().message();
  line = "  agent: {updates: {every: 1h}}";
  EXPECT_PROFILE_ERROR(load_with_base(line + "\n"), kInvalid,
                       at("demo.yaml", 9, col(line, "every")),
                       "unknown key 'every' in spec.agent.updates (expected one of: interval, "
                       "jitter, keyring, rolloutKeyring)");
}

TEST_F(ProfileTest, AgentUpdatesDefaultsAndValues) {
  auto r = load_with_base("");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->agent.update_interval, std::chrono::hours(4));
  EXPECT_EQ(r->agent.update_jitter, std::chrono::minutes(30));
  EXPECT_TRUE(r->agent.channel_keyring.empty());
  tmp.write("keys/extra.pub", "pem");
  r = load_with_base(
      "  agent:\n    updates: {interval: 1h30m, jitter: 0s, keyring: [keys/extra.pub],\n"
      "              rolloutKeyring: [keys/extra.pub]}\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->agent.update_interval, std::chrono::minutes(90));
  EXPECT_EQ(r->agent.update_jitter, std::chrono::seconds(0));
  ASSERT_EQ(r->agent.channel_keyring.size(), 1u);
  EXPECT_EQ(r->agent.channel_keyring[0], tmp / "keys/extra.pub");
  ASSERT_EQ(r->agent.rollout_keyring.size(), 1u);
}

TEST_F(ProfileTest, AgentExtends) {
  tmp.write("keys/a.pub", "a");
  tmp.write("keys/b.pub", "b");
  const std::string ida(64, 'a'), idb(64, 'b');
  tmp.write("parent.yaml", std::string(kHead) + std::string(kBase) +
                               "  agent:\n"
                               "    tries: 2\n"
                               "    keyring: [keys/a.pub]\n"
                               "    revoked: [" +
                               ida +
                               "]\n"
                               "    health:\n"
                               "      timeoutSeconds: 100\n"
                               "      units: [a.service, b.service]\n"
                               "      commands: [{run: \"true\"}]\n");
  auto r = load("child.yaml", std::string(kHead) +
                                  "  extends: [parent.yaml]\n"
                                  "  agent:\n"
                                  "    keyring: [keys/b.pub]\n"
                                  "    revoked: [" +
                                  idb +
                                  "]\n"
                                  "    health:\n"
                                  "      units: [c.service]\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto& a = r->agent;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.tries, 2);  // scalars: the parent's unless overridden
  EXPECT_EQ(a.health_timeout_seconds, 100);
  EXPECT_EQ(a.keyring,
            (std::vector<std::filesystem::path>{tmp / "keys/a.pub", tmp / "keys/b.pub"}));
  EXPECT_EQ(a.revoked, (std::vector<std::string>{ida, idb}));         // keys add up
  EXPECT_EQ(*a.health_units, std::vector<std::string>{"c.service"});  // lists are replaced
  ASSERT_EQ(a.health_commands.size(), 1u);                            // not set by the child: kept

  r = load("off.yaml",
           std::string(kHead) + "  extends: [parent.yaml]\n  agent: {enabled: false}\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->agent.enabled);
  EXPECT_EQ(r->agent.tries, 2);
}

}  // namespace
}  // namespace ef::profile
