#include "tests/support/postgres.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/command.hpp"

namespace ef::test {
namespace {
const char* const kBin = "/usr/lib/postgresql/15/bin/";
}

Postgres::Postgres(const std::filesystem::path& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  if (::geteuid() == 0) {
    // The server's user must reach its directory.
    run_command("chown postgres: " + dir_.string() + " && chmod 755 " +
                dir_.parent_path().string());
  }
  auto init = run_command(as_owner(std::string(kBin) + "initdb -D " + (dir_ / "data").string() +
                                   " -U postgres -A trust --no-sync > " +
                                   (dir_ / "initdb.log").string() + " 2>&1"));
  if (init.status != 0) return;
  up_ = start();
}

Postgres::~Postgres() {
  if (up_) stop();
}

std::string Postgres::as_owner(const std::string& command) const {
  if (::geteuid() != 0) return command;
  return "runuser -u postgres -- sh -c '" + command + "'";
}

bool Postgres::start() {
  // Unix socket in the test directory only; fsync off: a test cluster.
  auto r = run_command(as_owner(std::string(kBin) + "pg_ctl -D " + (dir_ / "data").string() +
                                " -w -t 60 -l " + (dir_ / "server.log").string() + " -o \"-k " +
                                dir_.string() +
                                " -c listen_addresses= -c fsync=off\" start > /dev/null 2>&1"));
  up_ = r.status == 0;
  return up_;
}

bool Postgres::stop() {
  auto r = run_command(as_owner(std::string(kBin) + "pg_ctl -D " + (dir_ / "data").string() +
                                " -w -m fast stop > /dev/null 2>&1"));
  up_ = false;
  return r.status == 0;
}

std::string Postgres::url() const {
  return "host=" + dir_.string() + " dbname=postgres user=postgres";
}

std::string Postgres::log() const {
  std::ifstream in(dir_ / "server.log");
  std::stringstream s;
  s << in.rdbuf();
  std::ifstream init(dir_ / "initdb.log");
  s << init.rdbuf();
  return s.str();
}

}  // namespace ef::test
