#include "util/subprocess.hpp"
#include "util/unique_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

extern char** environ;  // NOLINT: POSIX declares it nowhere in a header

namespace ef {
namespace {

// Used when PATH is unset, like the shells' built-in default.
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> make_pipe() {
  std::array<int, 2> fds{};
  // CLOEXEC so the child only keeps the ends dup2'd onto 1 and 2.
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return errno_error(Errc::subprocess, "pipe", errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

/// posix_spawn_file_actions_t with its destroy function.
class SpawnActions {
 public:
  SpawnActions() { ok_ = ::posix_spawn_file_actions_init(&actions_) == 0; }
  ~SpawnActions() {
    if (ok_) ::posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  bool ok() const { return ok_; }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
  bool ok_ = false;
};

/// posix_spawnattr_t with its destroy function.
class SpawnAttr {
 public:
  SpawnAttr() { ok_ = ::posix_spawnattr_init(&attr_) == 0; }
  ~SpawnAttr() {
    if (ok_) ::posix_spawnattr_destroy(&attr_);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  bool ok() const { return ok_; }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_{};
  bool ok_ = false;
};

std::string env_name(std::string_view entry) {
  return std::string(entry.substr(0, entry.find('=')));
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// The child's environment: ours, minus unset_env, with env applied.
std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string name = env_name(*e);
    bool overridden = std::any_of(options.env.begin(), options.env.end(),
                                  [&](const auto& kv) { return kv.first == name; });
    if (!overridden && !contains(options.unset_env, name)) out.emplace_back(*e);
  }
  for (const auto& [name, value] : options.env) out.push_back(name + "=" + value);
  return out;
}

/// PATH as the child will see it, so a PATH override also steers the lookup.
std::string child_path(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) return entry.substr(5);
  }
  return kDefaultPath;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Result<std::filesystem::path> resolve_program(const std::string& program, const std::string& path,
                                              const ProcessOptions& options) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return std::filesystem::path(program);
    return errno_error(Errc::not_found, "cannot run " + program, errno);
  }
  if (auto found = find_program(program, path)) return *found;
  const std::string& package = options.apt_package.empty() ? program : options.apt_package;
  return Error(Errc::not_found,
               program + " not found on PATH; install it with apt-get install " + package);
}

/// The descriptor the child gets as stdin, opened in the parent: a
/// posix_spawn addopen onto fd 0 closes fd 0 first, so a path that resolves
/// through it (/dev/stdin) would fail in the child and look like a missing
/// program. Kept above 2 so that a dup2 onto 0 is always a real copy.
Result<UniqueFd> open_child_stdin(const ProcessOptions& options) {
  const std::filesystem::path in =
      options.stdin_file.empty() ? std::filesystem::path("/dev/null") : options.stdin_file;
  UniqueFd fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return errno_error(Errc::io, "cannot open " + in.string() + " as a child's stdin", errno);
  if (fd.get() > STDERR_FILENO) return fd;
  UniqueFd high(::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
  if (!high) return errno_error(Errc::io, "fcntl(F_DUPFD_CLOEXEC)", errno);
  return high;
}

Result<void> setup_actions(SpawnActions& actions, const ProcessOptions& options, const UniqueFd* in,
                           const Pipe* out, const Pipe* err) {
  if (!actions.ok()) return Error(Errc::subprocess, "posix_spawn_file_actions_init failed");
  auto* a = actions.get();
  int rc = 0;
  if (in != nullptr) rc = ::posix_spawn_file_actions_adddup2(a, in->get(), STDIN_FILENO);
  if (rc == 0 && out != nullptr) rc = ::posix_spawn_file_actions_adddup2(a, out->write.get(), 1);
  if (rc == 0 && err != nullptr) rc = ::posix_spawn_file_actions_adddup2(a, err->write.get(), 2);
  if (rc == 0 && !options.cwd.empty())
    rc = ::posix_spawn_file_actions_addchdir_np(a, options.cwd.c_str());
  if (rc != 0) return errno_error(Errc::subprocess, "posix_spawn_file_actions", rc);
  return Ok{};
}

Result<void> setup_attr(SpawnAttr& attr) {
  if (!attr.ok()) return Error(Errc::subprocess, "posix_spawnattr_init failed");
  // Start the child with no blocked signals and default SIGPIPE, whatever
  // this process (or a library in it) has changed.
  sigset_t empty;
  sigset_t defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  int rc = ::posix_spawnattr_setsigmask(attr.get(), &empty);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(attr.get(), &defaults);
  if (rc == 0)
    rc = ::posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc != 0) return errno_error(Errc::subprocess, "posix_spawnattr", rc);
  return Ok{};
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // best effort: teeing must not fail the run
    data += n;
    size -= static_cast<size_t>(n);
  }
}

/// Keeps the last `limit` bytes of `tail`, starting at a line boundary when
/// there is one so the message does not begin mid-word.
void trim_tail(std::string& tail, size_t limit, bool final) {
  // Trimming lazily (at twice the limit) keeps appends amortised O(1).
  if (tail.size() <= (final ? limit : 2 * limit)) return;
  tail.erase(0, tail.size() - limit);
  if (!final) return;
  size_t nl = tail.find('\n');
  if (nl != std::string::npos && nl + 1 < tail.size()) tail.erase(0, nl + 1);
  tail.insert(0, "...\n");
}

/// Reads the captured pipes until both reach end of file.
Result<void> drain(UniqueFd& out_fd, UniqueFd& err_fd, const ProcessOptions& options,
                   ProcessResult& result) {
  std::array<char, 16384> buf{};
  while (out_fd || err_fd) {
    std::array<pollfd, 2> fds{pollfd{out_fd.get(), POLLIN, 0}, pollfd{err_fd.get(), POLLIN, 0}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error(Errc::subprocess, "poll", errno);
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      UniqueFd& fd = i == 0 ? out_fd : err_fd;
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return errno_error(Errc::subprocess, "read from child", errno);
      if (n == 0) {
        fd.reset();
        continue;
      }
      auto size = static_cast<size_t>(n);
      if (i == 0) {
        result.stdout_data.append(buf.data(), size);
      } else {
        if (options.tee_stderr) write_all(STDERR_FILENO, buf.data(), size);
        result.stderr_tail.append(buf.data(), size);
        trim_tail(result.stderr_tail, options.stderr_tail_bytes, false);
      }
    }
  }
  trim_tail(result.stderr_tail, options.stderr_tail_bytes, true);
  return Ok{};
}

Result<int> wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno_error(Errc::subprocess, "waitpid", errno);
  }
  return status;
}

}  // namespace

std::string ProcessResult::describe() const {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  return "exited with status " + std::to_string(exit_code);
}

Error process_failure(const std::vector<std::string>& argv, const ProcessResult& result) {
  std::string program = argv.empty() ? "process" : argv.front();
  std::string message = program + " " + result.describe();
  std::string tail = result.stderr_tail;
  while (!tail.empty() && std::isspace(static_cast<unsigned char>(tail.back()))) tail.pop_back();
  if (!tail.empty()) message += "; its last output:\n" + tail;
  return Error(Errc::subprocess, message);
}

std::optional<std::filesystem::path> find_program(std::string_view name,
                                                  std::string_view path_var) {
  while (true) {
    size_t colon = path_var.find(':');
    std::string_view dir = path_var.substr(0, colon);
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    path_var.remove_prefix(colon + 1);
  }
}

std::string format_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](unsigned char c) {
      return std::isalnum(c) || std::strchr("_./=:,+@%-", c) != nullptr;
    });
    if (plain) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
  if (argv.empty() || argv.front().empty())
    return Error(Errc::invalid_argument, "run_process: empty command");
  std::vector<std::string> env = child_environment(options);
  EF_ASSIGN(auto program, resolve_program(argv.front(), child_path(env), options));

  std::optional<Pipe> out;
  std::optional<Pipe> err;
  if (options.capture_stdout) {
    EF_ASSIGN(out, make_pipe());
  }
  if (options.capture_stderr) {
    EF_ASSIGN(err, make_pipe());
  }
  // A tool that prompts must not hang the build waiting for the terminal:
  // stdin is /dev/null unless the caller says otherwise.
  UniqueFd in;
  if (!options.inherit_stdin) {
    EF_ASSIGN(in, open_child_stdin(options));
  }
  if (!options.cwd.empty() && !std::filesystem::is_directory(options.cwd))
    return Error(Errc::not_found, "cannot run " + argv.front() + " in " + options.cwd.string() +
                                      ": no such directory");
  SpawnActions actions;
  EF_TRY(setup_actions(actions, options, options.inherit_stdin ? nullptr : &in,
                       out ? &*out : nullptr, err ? &*err : nullptr));
  SpawnAttr attr;
  EF_TRY(setup_attr(attr));

  std::vector<std::string> args = argv;
  std::vector<char*> c_args = c_strings(args);
  std::vector<char*> c_env = c_strings(env);
  pid_t pid = -1;
  int rc =
      ::posix_spawn(&pid, program.c_str(), actions.get(), attr.get(), c_args.data(), c_env.data());
  if (rc != 0) return errno_error(Errc::subprocess, "cannot run " + program.string(), rc);
  in.reset();

  // Our copies of the write ends must go, or the reads below never see EOF.
  UniqueFd out_read = out ? std::move(out->read) : UniqueFd();
  UniqueFd err_read = err ? std::move(err->read) : UniqueFd();
  out.reset();
  err.reset();

  ProcessResult result;
  Result<void> drained = drain(out_read, err_read, options, result);
  out_read.reset();  // a child still writing gets SIGPIPE instead of blocking us
  err_read.reset();
  EF_ASSIGN(int status, wait_child(pid));
  if (!drained) return std::move(drained).error();
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace ef
