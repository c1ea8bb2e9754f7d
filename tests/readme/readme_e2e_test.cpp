// The README-driven test (issue 21): every ```sh block of README.md is run as
// written — each command with bash, from the root of a temporary copy of the
// repository's tracked files (uncommitted edits included), relative paths and
// the default output directory — unless a `readme-test: skip` marker says why
// not. `./scripts/quickstart.sh` installs from this build tree
// (EDGEFORGE_PREBUILT) into a temporary prefix that is first on PATH, so the
// later `edgeforge ...` commands run the binaries it installed. `edgeforge
// run-vm` boots for real (TCG) and passes when its serial console reaches
// GRUB or a login prompt. Only what needs the network is stood in for, in
// one table (stand_ins below).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/readme/readme_blocks.hpp"
#include "tests/support/command.hpp"
#include "tests/support/http_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"
#include "util/sha256.hpp"

namespace ef::test::readme {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A bound against a hung command, not a timing assertion.
constexpr auto kCommandBound = std::chrono::minutes(30);
// `edgeforge run-vm` under TCG must reach the boot menu or a login prompt in this.
constexpr auto kConsoleBound = std::chrono::seconds(300);
const std::vector<std::string> kConsoleMarks = {"GNU GRUB", "login:"};

const std::string kK3sUrl = "https://github.com/k3s-io/k3s/releases/download/v1.32.7+k3s1/k3s";
const std::string kK3sUpstreamSha =
    "e15ced04176d2a3f8754a872012db0f6e043aea1b00c0421e4c3328d9ffb8dde";
const std::string kStandInK3s = "#!/bin/sh\necho stand-in k3s\n";

// The only rewriting of the copy: what needs the internet, pointed at a
// server on 127.0.0.1. Each `from` must occur in its file.
struct StandIn {
  std::string file, from, to, why;
};
std::vector<StandIn> stand_ins(const std::string& mirror) {
  return {
      {"README.md", "https://mirror.example", mirror,
       "the README's artifact mirror: a local server with a stand-in k3s"},
      {"layers/kubernetes/k3s.yaml", kK3sUpstreamSha, sha256_hex(kStandInK3s),
       "k3s v1.32.7+k3s1's upstream digest: the stand-in's (a mirror serves the pinned bytes)"},
  };
}

// The default download cache the README's commands use (docs/cache.md).
fs::path user_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0')
    return fs::path(x) / "edgeforge";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : "/root") / ".cache" / "edgeforge";
}

// Copies the files git tracks in `from`, as they are in its working tree.
void copy_tracked_files(const fs::path& from, const fs::path& to) {
  auto listed = run_command("git -C '" + from.string() + "' ls-files -z");
  ASSERT_EQ(listed.status, 0) << "git ls-files failed in " << from;
  std::istringstream names(listed.out);
  size_t copied = 0;
  for (std::string rel; std::getline(names, rel, '\0');) {
    fs::path src = from / rel, dst = to / rel;
    auto st = fs::symlink_status(src);
    if (!fs::exists(st)) continue;  // deleted in the working tree
    fs::create_directories(dst.parent_path());
    if (fs::is_symlink(st))
      fs::copy_symlink(src, dst);
    else
      fs::copy_file(src, dst);
    ++copied;
  }
  ASSERT_GT(copied, 100u);
}

void apply_stand_in(const fs::path& root, const StandIn& s) {
  auto text = read_file(root / s.file);
  ASSERT_TRUE(text.ok()) << s.file;
  std::string t = *text;
  size_t n = 0;
  for (size_t at = t.find(s.from); at != std::string::npos; at = t.find(s.from, at + s.to.size())) {
    t.replace(at, s.from.size(), s.to);
    ++n;
  }
  ASSERT_GT(n, 0u) << s.file << " no longer has '" << s.from << "' (" << s.why
                   << "): update the stand-in table in " << __FILE__;
  ASSERT_TRUE(write_file_atomic(root / s.file, t).ok());
}

struct CommandRun {
  int status = -1;  // exit status; -1: killed or still running when stopped
  bool marked = false;
  bool timed_out = false;
  double seconds = 0;
};

bool log_has(const fs::path& log, const std::vector<std::string>& marks) {
  auto text = read_file(log);
  if (!text) return false;
  for (const auto& m : marks)
    if (text->find(m) != std::string::npos) return true;
  return false;
}

// Stops the command's whole process group (bash, edgeforge, QEMU).
void stop_group(pid_t pid) {
  ::kill(-pid, SIGTERM);
  for (int i = 0; i < 50 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// `bash -c command` in `cwd`, in its own session, stdin from /dev/null,
// stdout and stderr to `log`. With `marks`, returns as soon as one shows up
// in the output and stops the command.
CommandRun run_shell(const std::string& command, const fs::path& cwd, const fs::path& log,
                     std::chrono::seconds bound, const std::vector<std::string>& marks = {}) {
  CommandRun run;
  auto start = Clock::now();
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::string dir = cwd.string();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (::chdir(dir.c_str()) == 0)
      ::execl("/bin/bash", "bash", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in);
  ::close(out);
  if (pid < 0) return run;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      run.marked = !marks.empty() && log_has(log, marks);
      ::kill(-pid, SIGKILL);  // anything it left behind in its group
      break;
    }
    if (!marks.empty() && log_has(log, marks)) {
      run.marked = true;
      stop_group(pid);
      break;
    }
    if (Clock::now() - start > bound) {
      run.timed_out = true;
      stop_group(pid);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

std::string tail(const fs::path& log, size_t lines = 40) {
  auto text = read_file(log);
  if (!text) return "(no output)";
  size_t at = text->size();
  for (size_t n = 0; n <= lines && at > 0; ++n) at = text->rfind('\n', at - 1);
  return at == std::string::npos ? *text : text->substr(at + 1);
}

bool is_run_vm(const std::string& command) {
  auto w = words(command);
  return w.size() >= 2 && w[0] == "edgeforge" && w[1] == "run-vm";
}

// The quick-start image's SBOM (issue 20): its Debian packages are exactly
// what dpkg-query reads from the image's own database, and the document
// passes the oracles of tests/sbom/schema.
void check_quickstart_sbom(const fs::path& clone) {
  fs::path out = clone / "out", sbom = out / "quickstart-0.1.0.spdx.json";
  ASSERT_TRUE(fs::exists(sbom)) << "the quick start wrote no SBOM";
  auto validated = run_command("node " + std::string(EF_SOURCE_DIR) +
                               "/tests/sbom/schema/validate.js " + sbom.string() + " 2>&1");
  EXPECT_EQ(validated.status, 0) << validated.out;
  fs::path root = out / "sbom-check";
  ASSERT_EQ(run_command("unsquashfs -q -n -d " + root.string() + " " +
                        (out / "quickstart-0.1.0.squashfs").string() + " var/lib/dpkg")
                .status,
            0);
  auto dpkg = run_command("dpkg-query --admindir=" + (root / "var/lib/dpkg").string() +
                          " -W -f='${db:Status-Status} ${Package} ${Version} ${Architecture}\\n'"
                          " 2>/dev/null | grep -v '^config-files ' | cut -d' ' -f2- | sort");
  auto listed = run_command(
      "jq -r '.packages[] | select(.SPDXID | startswith(\"SPDXRef-deb-\")) | "
      "\"\\(.name) \\(.versionInfo) \\(.externalRefs[0].referenceLocator | "
      "capture(\"arch=(?<a>[^&]+)\").a)\"' " +
      sbom.string() + " | sort");
  EXPECT_EQ(listed.out, dpkg.out);
  EXPECT_GT(std::count(dpkg.out.begin(), dpkg.out.end(), '\n'), 100) << dpkg.out;
  fs::remove_all(root);
}

TEST(ReadmeE2E, EveryShellBlockRunsAsWritten) {
  TempDir tmp;
  const fs::path clone = tmp / "edgeforge", prefix = tmp / "prefix", logs = tmp / "logs";
  ASSERT_NO_FATAL_FAILURE(copy_tracked_files(EF_SOURCE_DIR, clone));
  fs::create_directories(logs);

  HttpServer mirror("not on the mirror");
  mirror.route("/" + kK3sUrl.substr(kK3sUrl.find("://") + 3), kStandInK3s);
  for (const auto& s : stand_ins(mirror.url(""))) ASSERT_NO_FATAL_FAILURE(apply_stand_in(clone, s));
  // The stand-in k3s may be in the shared download cache from an earlier
  // run; without it the README's mirror command must really fetch.
  fs::remove(user_cache_dir() / "blobs" / "sha256" / sha256_hex(kStandInK3s));

  auto text = read_file(clone / "README.md");
  ASSERT_TRUE(text.ok());
  auto readme = parse_readme(*text);
  for (const auto& e : readme.errors) ADD_FAILURE() << e;

  // quickstart.sh installs into `prefix` from this build tree; `edgeforge`
  // then runs by name from prefix/bin, as on a fresh machine from /usr/local/bin.
  ::setenv("EDGEFORGE_PREFIX", prefix.c_str(), 1);
  ::setenv("EDGEFORGE_PREBUILT", EF_BINARY_DIR, 1);
  // Distribution definitions from the copy (with the stand-in's pin), not
  // from a /usr/local/share/edgeforge some earlier install left behind.
  ::setenv("EDGEFORGE_DATA_DIR", clone.c_str(), 1);
  const char* path = std::getenv("PATH");
  ::setenv("PATH", ((prefix / "bin").string() + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);

  size_t ran = 0, booted = 0;
  bool quickstart = false;
  auto started = Clock::now();
  for (const auto& block : readme.blocks) {
    if (!block.is_shell()) continue;
    if (!block.skip_reason.empty()) {
      std::cerr << "[ readme   ] README.md:" << block.fence_line
                << ": block skipped: " << block.skip_reason << "\n";
      continue;
    }
    for (const auto& c : block.commands()) {
      std::string where = "README.md:" + std::to_string(c.line);
      if (!c.skip_reason.empty()) {
        std::cerr << "[ readme   ] " << where << ": skipped: " << c.text << " (" << c.skip_reason
                  << ")\n";
        continue;
      }
      fs::path log = logs / ("README.md-" + std::to_string(c.line) + ".log");
      bool boots = is_run_vm(c.text);
      std::cerr << "[ readme   ] " << where << ": " << c.text << std::endl;
      CommandRun r = boots ? run_shell(c.text, clone, log, kConsoleBound, kConsoleMarks)
                           : run_shell(c.text, clone, log, kCommandBound);
      std::cerr << "[ readme   ] " << where << ": "
                << (r.marked ? "console reached" : "exit " + std::to_string(r.status)) << " after "
                << static_cast<int>(r.seconds) << " s\n";
      ++ran;
      quickstart = quickstart || c.text.rfind("./scripts/quickstart.sh", 0) == 0;
      if (boots) {
        ++booted;
        EXPECT_TRUE(r.marked) << where << ": `" << c.text << "` "
                              << (r.timed_out ? "showed neither GRUB nor a login prompt in " +
                                                    std::to_string(kConsoleBound.count()) + " s"
                                              : "exited with status " + std::to_string(r.status) +
                                                    " before GRUB or a login prompt")
                              << "; last lines of its output (" << log.string() << "):\n"
                              << tail(log);
      } else {
        EXPECT_EQ(r.status, 0) << where << ": `" << c.text << "` "
                               << (r.timed_out ? "still ran after the bound"
                                               : "exited with status " + std::to_string(r.status))
                               << "; last lines of its output (" << log.string() << "):\n"
                               << tail(log);
      }
    }
  }
  std::cerr << "[ readme   ] " << ran << " commands in "
            << static_cast<int>(std::chrono::duration<double>(Clock::now() - started).count())
            << " s\n";
  EXPECT_TRUE(quickstart) << "README.md no longer runs ./scripts/quickstart.sh";
  check_quickstart_sbom(clone);
  EXPECT_GE(booted, 1u) << "README.md no longer boots anything with edgeforge run-vm";
  EXPECT_GE(mirror.requests(), 1) << "nothing fetched k3s from the README's mirror";
}

}  // namespace
}  // namespace ef::test::readme
