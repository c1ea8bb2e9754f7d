// The edgeforge-fleet program started by a test: `serve` on a free port of
// 127.0.0.1, its stdout kept in DIR/out, stopped with SIGTERM.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "util/atomic_file.hpp"

namespace ef::test {

class FleetProgram {
 public:
  /// Starts `serve --db DB --config CONFIG` and waits (10 s at most) until
  /// its output holds `ready`; port() is then the port it printed.
  FleetProgram(const std::filesystem::path& dir, const std::filesystem::path& db,
               const std::filesystem::path& config, const std::string& ready = "serving")
      : out_path_(dir / "out") {
    const std::string bin = EF_FLEET_BIN;
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen(out_path_.c_str(), "w", stdout)) _exit(126);
      execl(bin.c_str(), bin.c_str(), "serve", "--listen", "127.0.0.1:0", "--db", db.c_str(),
            "--config", config.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && output().find(ready) == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string out = output();
    size_t at = out.find("127.0.0.1:");
    if (at != std::string::npos) {
      port_ = out.substr(at + 10);
      port_ = port_.substr(0, port_.find(' '));
    }
  }
  ~FleetProgram() {
    if (pid_ > 0) stop();
  }
  FleetProgram(const FleetProgram&) = delete;
  FleetProgram& operator=(const FleetProgram&) = delete;

  std::string output() const {
    auto text = read_file(out_path_);
    return text ? *text : "";
  }
  const std::string& port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + port_; }
  /// SIGTERM, then the wait status.
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  std::filesystem::path out_path_;
  pid_t pid_ = -1;
  std::string port_;
};

}  // namespace ef::test
