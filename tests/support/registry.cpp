#include "tests/support/registry.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/command.hpp"

namespace ef::test {

Registry::Registry(const std::filesystem::path& dir, const std::string& user,
                   const std::string& password)
    : dir_(dir) {
  std::filesystem::create_directories(dir_ / "data");
  // A port of our own: bind 0, read it back, release it (as refused_url).
  port_ = 0;
  auto r = run_command(
      "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
      "print(s.getsockname()[1])'");
  port_ = std::atoi(r.out.c_str());
  std::ostringstream config;
  config << "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
         << "storage:\n  filesystem:\n    rootdirectory: " << (dir_ / "data").string()
         << "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" << port_ << "\n";
  if (!user.empty()) {
    auto hash = run_command(
        "python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], "
        "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' '" +
        password + "' 2>/dev/null");
    std::ofstream(dir_ / "htpasswd") << user << ":" << hash.out;
    config << "auth:\n  htpasswd:\n    realm: edgeforge-test\n    path: "
           << (dir_ / "htpasswd").string() << "\n";
  }
  std::ofstream(dir_ / "config.yml") << config.str();
  pid_ = ::fork();
  if (pid_ == 0) {
    std::string log = (dir_ / "registry.log").string(), cfg = (dir_ / "config.yml").string();
    if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
    execlp("docker-registry", "docker-registry", "serve", cfg.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 150 && pid_ > 0; ++i) {
    // /v2/ answers 200, or 401 behind auth, once the registry is up.
    auto probe = run_command("curl -s -o /dev/null -w '%{http_code}' http://" + host() + "/v2/");
    if (probe.out == "200" || probe.out == "401") {
      up_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Registry::~Registry() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string Registry::host() const {
  return "127.0.0.1:" + std::to_string(port_);
}

int Registry::requests(const std::string& method, const std::string& needle, int status) const {
  std::ifstream in(log());
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    if (line.find("\"" + method + " ") != std::string::npos &&
        line.find(needle) != std::string::npos &&
        line.find("\" " + std::to_string(status) + " ") != std::string::npos)
      ++n;
  return n;
}

}  // namespace ef::test
