#include "agent/state.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "agent/lock.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::agent {
namespace {

TEST(AgentState, AMissingFileIsAFreshDevice) {
  test::TempDir tmp;
  auto s = load_state(tmp / "state.json");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->a.health, SlotHealth::empty);
  EXPECT_EQ(s->b.health, SlotHealth::empty);
  EXPECT_EQ(s->floor, "0.0.0");
  EXPECT_FALSE(s->operation);
}

TEST(AgentState, RoundTripsAndReplacesAtomically) {
  test::TempDir tmp;
  AgentState s;
  s.a = {SlotHealth::good, "store-edge", "1.0.0", std::string(64, 'a'), "", std::string(64, 'd')};
  s.b = {SlotHealth::trial, "store-edge", "1.1.0", std::string(64, 'b'), "", ""};
  s.floor = "1.0.0";
  s.operation =
      Operation{"upgrade", OperationPhase::switching, "B", "https://x/b.efb", "1.1.0", ""};
  ASSERT_TRUE(save_state(tmp / "var" / "state.json", s));
  auto back = load_state(tmp / "var" / "state.json");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->a.version, "1.0.0");
  EXPECT_EQ(back->a.sbom_sha256, std::string(64, 'd'));
  EXPECT_EQ(back->b.sbom_sha256, "");
  EXPECT_EQ(back->b.health, SlotHealth::trial);
  EXPECT_EQ(back->floor, "1.0.0");
  ASSERT_TRUE(back->operation);
  EXPECT_EQ(back->operation->phase, OperationPhase::switching);
  EXPECT_EQ(back->operation->bundle, "https://x/b.efb");
  // No temporary files are left beside it.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp / "var"))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(AgentState, AMalformedFileIsOneLineNamingIt) {
  test::TempDir tmp;
  auto p = tmp.write("state.json", "{\"formatVersion\":1,\"slots\":{}}");
  auto s = load_state(p);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("state.json: agent state is incomplete"), std::string::npos)
      << s.error().message();
  p = tmp.write("state.json", "garbage");
  EXPECT_NE(load_state(p).error().message().find("is not JSON"), std::string::npos);
}

TEST(AgentState, AnInterruptedWriteLeavesTheSlotEmptyAndTheOperationFailed) {
  AgentState s;
  s.a = {SlotHealth::good, "p", "1.0.0", std::string(64, 'a'), "", ""};
  s.b = {SlotHealth::good, "p", "0.9.0", std::string(64, 'c'), "", ""};
  for (OperationPhase phase :
       {OperationPhase::writing, OperationPhase::verifying, OperationPhase::boot_files}) {
    AgentState t = s;
    t.operation = Operation{"upgrade", phase, "B", "b.efb", "1.1.0", ""};
    EXPECT_TRUE(recover_interrupted(t));
    EXPECT_EQ(t.b.health, SlotHealth::empty) << operation_phase_name(phase);
    EXPECT_EQ(t.a.health, SlotHealth::good);
    EXPECT_EQ(t.operation->phase, OperationPhase::failed);
    EXPECT_NE(
        t.operation->error.find(std::string("interrupted during ") + operation_phase_name(phase)),
        std::string::npos);
  }
  AgentState switching = s;
  switching.operation = Operation{"upgrade", OperationPhase::switching, "B", "b.efb", "1.1.0", ""};
  EXPECT_FALSE(recover_interrupted(switching));
  AgentState done = s;
  done.operation = Operation{"upgrade", OperationPhase::done, "B", "b.efb", "1.1.0", ""};
  EXPECT_FALSE(recover_interrupted(done));
}

// The journal's phase names are the on-disk format of devices in the field.
TEST(AgentState, PhaseNamesAreTheJournalFormat) {
  const std::pair<OperationPhase, const char*> names[] = {
      {OperationPhase::writing, "writing"},
      {OperationPhase::verifying, "verifying"},
      {OperationPhase::boot_files, "boot-files"},
      {OperationPhase::switching, "switching"},
      {OperationPhase::done, "done"},
      {OperationPhase::failed, "failed"}};
  test::TempDir tmp;
  for (const auto& [phase, name] : names) {
    EXPECT_STREQ(operation_phase_name(phase), name);
    EXPECT_EQ(parse_operation_phase(name), phase) << name;
    AgentState s;
    s.operation = Operation{"upgrade", phase, "B", "b.efb", "1.1.0", ""};
    ASSERT_TRUE(save_state(tmp / "state.json", s));
    EXPECT_NE(read_file(tmp / "state.json")->find(std::string("\"phase\": \"") + name + "\""),
              std::string::npos)
        << name;
    EXPECT_EQ(load_state(tmp / "state.json")->operation->phase, phase) << name;
  }
  EXPECT_FALSE(parse_operation_phase("boot_files"));
  EXPECT_FALSE(parse_operation_phase("Done"));
}

// A phase this agent does not know (a newer agent's journal after a rollback
// to an older slot) loads as "switching", so grubenv decides: nothing stops
// the agent, and a slot outside the boot order is emptied, never booted.
TEST(AgentState, AnUnknownPhaseIsLeftToTheBootState) {
  test::TempDir tmp;
  AgentState s;
  s.b = {SlotHealth::empty, "p", "1.1.0", std::string(64, 'b'), "", ""};
  s.operation = Operation{"upgrade", OperationPhase::writing, "B", "b.efb", "1.1.0", ""};
  ASSERT_TRUE(save_state(tmp / "state.json", s));
  std::string text = *read_file(tmp / "state.json");
  text.replace(text.find("\"writing\""), 9, "\"fetching-chunks\"");
  ASSERT_TRUE(write_file_atomic(tmp / "state.json", text));
  auto back = load_state(tmp / "state.json");
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_TRUE(back->operation);
  EXPECT_EQ(back->operation->phase, OperationPhase::switching);
  EXPECT_FALSE(recover_interrupted(*back));  // left to Device::reconcile and grubenv
}

TEST(AgentLock, OneAgentAtATimeAndTheLockDiesWithItsHolder) {
  test::TempDir tmp;
  auto first = AgentLock::acquire(tmp / "run" / "agent.lock");
  ASSERT_TRUE(first) << first.error().message();
  // Another process (flock locks are per open file, so fork to be another holder).
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(AgentLock::acquire(tmp / "run" / "agent.lock") ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  auto second = AgentLock::acquire(tmp / "run" / "agent.lock");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::refused);
  EXPECT_NE(second.error().message().find("another edgeforge-agent is running"), std::string::npos);
  // A holder killed without cleanup frees it.
  { auto released = std::move(*first); }
  pid = ::fork();
  if (pid == 0) {
    auto held = AgentLock::acquire(tmp / "run" / "agent.lock");
    ::_exit(held ? 0 : 1);  // dies holding it
  }
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(AgentLock::acquire(tmp / "run" / "agent.lock"));
}

}  // namespace
}  // namespace ef::agent
