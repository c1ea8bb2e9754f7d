// Debian's PostgreSQL 15 started for a test: a cluster made with initdb in a
// temporary directory, listening only on a Unix socket there (no TCP port),
// stopped and removed with the object. As root the server runs as the
// `postgres` user (PostgreSQL refuses to run as root).
#pragma once

#include <filesystem>
#include <string>

namespace ef::test {

class Postgres {
 public:
  explicit Postgres(const std::filesystem::path& dir);
  ~Postgres();
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  bool ok() const { return up_; }
  /// libpq connection string of the `postgres` database.
  std::string url() const;
  std::string log() const;
  /// Stops the server (fast shutdown) or starts it again, for tests of a
  /// database that goes away and comes back.
  bool stop();
  bool start();

 private:
  std::string as_owner(const std::string& command) const;
  std::filesystem::path dir_;
  bool up_ = false;
};

}  // namespace ef::test
