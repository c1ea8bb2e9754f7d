// The fleet service's storage engines behind one small SQL interface: SQLite
// (one file, WAL; the default) and PostgreSQL (libpq; several service
// instances share one database). Statements are written once, with $1, $2...
// placeholders, in the SQL both engines speak; the engine binds the values
// (never pastes them into the text).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "util/error.hpp"

namespace ef::fleet {

/// One bound value: NULL, an integer or text.
using SqlValue = std::variant<std::monostate, int64_t, std::string>;

/// One result row: each column as text, or nullopt for NULL.
struct Row {
  std::vector<std::optional<std::string>> cells;
  /// Column `i` as text ("" for NULL).
  std::string text(size_t i) const;
  /// Column `i` as an integer (0 for NULL or text that is not one).
  int64_t integer(size_t i) const;
  bool null(size_t i) const { return i >= cells.size() || !cells[i]; }
};

class Database {
 public:
  virtual ~Database() = default;
  /// "sqlite" or "postgresql".
  virtual const char* engine() const = 0;
  /// Runs one statement; returns the rows it yields. A failure is
  /// Errc::database naming the engine and the server's message; a broken
  /// connection is re-opened once before the statement is given up.
  virtual Result<std::vector<Row>> query(const std::string& sql,
                                         const std::vector<SqlValue>& params = {}) = 0;
  /// query() for one statement whose effect may be lost, without harm, if
  /// the database server crashes just after it answered (a device's status
  /// report: the device reports again within its heartbeat). PostgreSQL
  /// answers without waiting for the WAL flush (synchronous_commit off for
  /// that statement: the disk's flush latency stays out of the answer, and
  /// the database is never inconsistent); SQLite (WAL, synchronous=NORMAL)
  /// runs it as query(). Inside a transaction(), the transaction decides.
  virtual Result<std::vector<Row>> query_relaxed(const std::string& sql,
                                                 const std::vector<SqlValue>& params = {}) {
    return query(sql, params);
  }
  /// Runs `body` in one transaction (serializable where concurrent writers
  /// could interleave); commits when it succeeds, rolls back otherwise. A
  /// serialization failure of a concurrent transaction is retried.
  virtual Result<void> transaction(const std::function<Result<void>()>& body) = 0;
};

/// `url`: postgresql://... or postgres://... (libpq connection URI; also
/// "host=... dbname=..." key=value strings), else a SQLite file path
/// (created, with WAL). The schema is created or upgraded to the current
/// version before this returns.
Result<std::unique_ptr<Database>> open_database(const std::string& url);

}  // namespace ef::fleet
