#include "tests/support/static_server.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "util/atomic_file.hpp"

namespace ef::test {
namespace {

/// Starts `argv` with stdout to a pipe and stderr to `log`; returns its pid
/// and the first line it prints (how it says where it listens).
pid_t start(const std::vector<std::string>& argv, const std::filesystem::path& log,
            std::string& first_line) {
  int out[2];
  if (::pipe(out) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    if (std::freopen(log.c_str(), "w", stderr) == nullptr) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(out[1]);
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') first_line += c;
  ::close(out[0]);  // the child's later prints go nowhere; it prints nothing more
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

StaticServer::StaticServer(const std::filesystem::path& dir, const std::filesystem::path& log)
    : log_(log) {
  std::string line;
  // -u: the "Serving HTTP on ... port N" line is not held in a pipe buffer.
  pid_ = start({"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                dir.string()},
               log, line);
  std::smatch m;
  if (std::regex_search(line, m, std::regex(" port ([0-9]+)"))) port_ = std::stoi(m[1]);
  if (port_ == 0) ADD_FAILURE() << "python3 -m http.server did not start: " << line;
}

StaticServer::~StaticServer() {
  stop(pid_);
}

std::string StaticServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

int StaticServer::count(const std::string& pattern) const {
  auto text = read_file(log_);
  if (!text) return 0;
  std::regex re(pattern);
  std::istringstream lines(*text);
  int n = 0;
  for (std::string l; std::getline(lines, l);) n += std::regex_search(l, re) ? 1 : 0;
  return n;
}

CountingRelay::CountingRelay(int target_port, const std::filesystem::path& counts)
    : counts_(counts) {
  std::string line;
  pid_ = start({"python3", "-u", EF_SOURCE_DIR "/tests/support/counting_relay.py",
                std::to_string(target_port), counts.string()},
               counts.string() + ".log", line);
  port_ = std::atoi(line.c_str());
  if (port_ == 0) ADD_FAILURE() << "counting_relay.py did not start: " << line;
}

CountingRelay::~CountingRelay() {
  stop(pid_);
}

std::string CountingRelay::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

CountingRelay::Counts CountingRelay::counts() const {
  Counts c;
  std::ifstream in(counts_);
  in >> c.connections >> c.to_server >> c.to_client;
  return c;
}

}  // namespace ef::test
