#include "fleet/database.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <thread>
#include <unordered_map>

namespace ef::fleet {
namespace {

// The schema, in the SQL both engines accept: version 1 as created, then
// each later version's changes (kMigrations), applied in order.
constexpr int kSchemaVersion = 2;
const char* const kSchema[] = {
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    // state: provisioned (imported by an operator, not yet registered),
    // unpaired (registered, waiting for approval), ready.
    "CREATE TABLE IF NOT EXISTS devices ("
    " id TEXT PRIMARY KEY,"
    " public_key TEXT,"
    " state TEXT NOT NULL,"
    " created BIGINT NOT NULL,"
    " registered BIGINT,"
    " last_seq BIGINT NOT NULL DEFAULT 0,"
    " last_report BIGINT,"
    " status TEXT)",
    // Registration tokens by the sha256 of their secret.
    "CREATE TABLE IF NOT EXISTS tokens ("
    " id TEXT PRIMARY KEY,"
    " expires BIGINT NOT NULL,"
    " single_use INTEGER NOT NULL,"
    " auto_approve INTEGER NOT NULL,"
    " uses INTEGER NOT NULL DEFAULT 0,"
    " created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reports ("
    " device_id TEXT NOT NULL,"
    " seq BIGINT NOT NULL,"
    " received BIGINT NOT NULL,"
    " body TEXT NOT NULL,"
    " PRIMARY KEY (device_id, seq))",
};

struct Migration {
  int to;
  std::vector<const char*> statements;
};
const Migration kMigrations[] = {
    // 2: where each device stands (fleet/placement.hpp), kept with its last
    // report so roll-ups and gates are queries; the rollout states the
    // service signed, each written to the channel's place once.
    {2,
     {"ALTER TABLE devices ADD COLUMN channel TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE devices ADD COLUMN release_version TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE devices ADD COLUMN running TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE devices ADD COLUMN wave TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE devices ADD COLUMN phase TEXT NOT NULL DEFAULT 'unknown'",
      "ALTER TABLE devices ADD COLUMN phase_since BIGINT NOT NULL DEFAULT 0",
      "ALTER TABLE devices ADD COLUMN error TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE devices ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'",
      "CREATE INDEX devices_rollout ON devices (channel, release_version, phase)",
      "CREATE TABLE rollout_states ("
      " channel TEXT NOT NULL,"
      " version BIGINT NOT NULL,"
      " release_version TEXT NOT NULL,"
      " body TEXT NOT NULL,"
      " created BIGINT NOT NULL,"
      " written BIGINT,"
      " PRIMARY KEY (channel, version))"}},
};

Error db_error(const char* engine, const std::string& what) {
  std::string one = what;
  while (!one.empty() && (one.back() == '\n' || one.back() == ' ')) one.pop_back();
  for (char& c : one)
    if (c == '\n') c = ' ';
  return Error(Errc::database, std::string(engine) + ": " + one);
}

// ---- SQLite ---------------------------------------------------------------

class SqliteDatabase final : public Database {
 public:
  static Result<std::unique_ptr<Database>> open(const std::string& path) {
    auto db = std::unique_ptr<SqliteDatabase>(new SqliteDatabase);
    int rc = sqlite3_open_v2(path.c_str(), &db->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK)
      return db_error("sqlite", path + ": " + (db->db_ ? sqlite3_errmsg(db->db_) : "cannot open"));
    sqlite3_busy_timeout(db->db_, 10000);
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) {
      auto r = db->query(pragma, {});
      if (!r) return r.error().with_context(path);
    }
    return std::unique_ptr<Database>(std::move(db));
  }
  ~SqliteDatabase() override { sqlite3_close_v2(db_); }

  const char* engine() const override { return "sqlite"; }

  Result<std::vector<Row>> query(const std::string& sql,
                                 const std::vector<SqlValue>& params) override {
    std::lock_guard<std::recursive_mutex> hold(mutex_);
    // $N placeholders are SQLite's ?N.
    static const std::regex placeholder(R"(\$([0-9]+))");
    std::string text = std::regex_replace(sql, placeholder, "?$1");
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, text.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      return db_error("sqlite", sqlite3_errmsg(db_));
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> guard(stmt, sqlite3_finalize);
    for (size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i + 1), rc = SQLITE_OK;
      if (const auto* n = std::get_if<int64_t>(&params[i]))
        rc = sqlite3_bind_int64(stmt, index, *n);
      else if (const auto* s = std::get_if<std::string>(&params[i]))
        rc = sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()),
                               SQLITE_TRANSIENT);
      else
        rc = sqlite3_bind_null(stmt, index);
      if (rc != SQLITE_OK) return db_error("sqlite", sqlite3_errmsg(db_));
    }
    std::vector<Row> rows;
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return db_error("sqlite", sqlite3_errmsg(db_));
      Row row;
      int n = sqlite3_column_count(stmt);
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.cells.emplace_back(std::nullopt);
        } else {
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.cells.emplace_back(
              std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<void> transaction(const std::function<Result<void>()>& body) override {
    // One connection, one writer: the mutex keeps other threads' statements
    // out of the transaction; BEGIN IMMEDIATE keeps other processes out.
    std::lock_guard<std::recursive_mutex> hold(mutex_);
    EF_TRY(query("BEGIN IMMEDIATE", {}));
    auto r = body();
    if (!r) {
      (void)query("ROLLBACK", {});
      return r;
    }
    if (auto c = query("COMMIT", {}); !c) {
      (void)query("ROLLBACK", {});
      return c.error();
    }
    return Ok{};
  }

 private:
  SqliteDatabase() = default;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mutex_;
};

// ---- PostgreSQL -----------------------------------------------------------

/// One server connection and the statements prepared on it (by their SQL
/// text): a statement with parameters is parsed and planned by the server
/// once per connection, not at every call.
struct PgConnection {
  explicit PgConnection(PGconn* c) : conn(c) {}
  ~PgConnection() { PQfinish(conn); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// Re-opens a broken connection; the server forgot its statements and
  /// settings.
  void reset() {
    PQreset(conn);
    prepared.clear();
    relaxed = false;
  }

  PGconn* conn;
  bool relaxed = false;  // synchronous_commit is off on this session
  std::unordered_map<std::string, std::string> prepared;  // SQL -> statement name
};

class PgDatabase final : public Database {
 public:
  static Result<std::unique_ptr<Database>> open(const std::string& conninfo) {
    auto db = std::unique_ptr<PgDatabase>(new PgDatabase(conninfo));
    EF_ASSIGN(auto first, db->connect());
    db->idle_.push_back(std::move(first));
    return std::unique_ptr<Database>(std::move(db));
  }

  const char* engine() const override { return "postgresql"; }

  Result<std::vector<Row>> query(const std::string& sql,
                                 const std::vector<SqlValue>& params) override {
    return query_on(idle_, sql, params, false);
  }

  Result<std::vector<Row>> query_relaxed(const std::string& sql,
                                         const std::vector<SqlValue>& params) override {
    return query_on(relaxed_idle_, sql, params, true);
  }

  Result<void> transaction(const std::function<Result<void>()>& body) override {
    if (current() != nullptr) return body();  // already inside one
    EF_ASSIGN(auto conn, take(idle_));
    if (PQstatus(conn->conn) == CONNECTION_BAD) conn->reset();
    Result<void> result = Ok{};
    for (int attempt = 0; attempt < 5; ++attempt) {
      set_current(conn.get());
      result = [&]() -> Result<void> {
        EF_TRY(run(*conn, "BEGIN ISOLATION LEVEL SERIALIZABLE", {}));
        auto r = body();
        if (!r) return r;
        EF_TRY(run(*conn, "COMMIT", {}));
        return Ok{};
      }();
      if (!result) (void)run(*conn, "ROLLBACK", {});
      set_current(nullptr);
      if (result || last_state_ != "40001") break;  // retry serialization failures only
      std::this_thread::sleep_for(std::chrono::milliseconds(5 << attempt));
    }
    give(idle_, std::move(conn));
    return result;
  }

 private:
  using Connection = std::unique_ptr<PgConnection>;
  // Idle connections kept for the next caller; more are opened while every
  // kept one is busy (one per worker thread), and closed when returned past
  // this many.
  static constexpr size_t kIdleConnections = 64;
  // Statements kept prepared per connection; SQL past that runs unprepared.
  static constexpr size_t kPreparedStatements = 256;

  explicit PgDatabase(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  Result<Connection> connect() {
    PGconn* conn = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn);
      PQfinish(conn);
      return db_error("postgresql", message);
    }
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    return std::make_unique<PgConnection>(conn);
  }
  /// One statement on a connection of `pool`; the relaxed pool's
  /// connections commit without waiting for the WAL flush (set once per
  /// connection, again after a reconnect).
  Result<std::vector<Row>> query_on(std::vector<Connection>& pool, const std::string& sql,
                                    const std::vector<SqlValue>& params, bool relaxed) {
    if (PgConnection* tx = current(); tx != nullptr) return run(*tx, sql, params);
    EF_ASSIGN(auto conn, take(pool));
    auto attempt = [&]() -> Result<std::vector<Row>> {
      if (relaxed && !conn->relaxed) {
        EF_TRY(run(*conn, "SET synchronous_commit TO off", {}));
        conn->relaxed = true;
      }
      return run(*conn, sql, params);
    };
    auto r = attempt();
    if (!r && PQstatus(conn->conn) == CONNECTION_BAD) {
      // The server went away: reconnect once and try again.
      conn->reset();
      if (PQstatus(conn->conn) == CONNECTION_OK) r = attempt();
    }
    give(pool, std::move(conn));
    return r;
  }

  Result<Connection> take(std::vector<Connection>& pool) {
    {
      std::lock_guard<std::mutex> hold(pool_mutex_);
      if (!pool.empty()) {
        Connection c = std::move(pool.back());
        pool.pop_back();
        return c;
      }
    }
    return connect();
  }
  void give(std::vector<Connection>& pool, Connection conn) {
    std::lock_guard<std::mutex> hold(pool_mutex_);
    if (pool.size() < kIdleConnections) pool.push_back(std::move(conn));
  }

  /// The failure of a statement: its SQLSTATE kept for the retry rule.
  Error failed(PGconn* conn, const PGresult* res) {
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    last_state_ = state ? state : "";
    return db_error("postgresql", PQerrorMessage(conn));
  }

  Result<std::vector<Row>> run(PgConnection& c, const std::string& sql,
                               const std::vector<SqlValue>& params) {
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* n = std::get_if<int64_t>(&params[i])) {
        text[i] = std::to_string(*n);
        values[i] = text[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        values[i] = s->c_str();
      }
    }
    const int n = static_cast<int>(params.size());
    PGresult* res = nullptr;
    auto statement = c.prepared.find(sql);
    if (statement == c.prepared.end() && n > 0 && c.prepared.size() < kPreparedStatements) {
      // Prepared statements outlive a rolled-back transaction: kept once made.
      std::string name = "ef_" + std::to_string(c.prepared.size());
      std::unique_ptr<PGresult, decltype(&PQclear)> made(
          PQprepare(c.conn, name.c_str(), sql.c_str(), n, nullptr), PQclear);
      if (PQresultStatus(made.get()) != PGRES_COMMAND_OK) return failed(c.conn, made.get());
      statement = c.prepared.emplace(sql, std::move(name)).first;
    }
    if (statement != c.prepared.end())
      res =
          PQexecPrepared(c.conn, statement->second.c_str(), n, values.data(), nullptr, nullptr, 0);
    else
      res = PQexecParams(c.conn, sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
    std::unique_ptr<PGresult, decltype(&PQclear)> guard(res, PQclear);
    auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return failed(c.conn, res);
    std::vector<Row> rows;
    int count = PQntuples(res), cols = PQnfields(res);
    rows.reserve(static_cast<size_t>(count));
    for (int r = 0; r < count; ++r) {
      Row row;
      for (int col = 0; col < cols; ++col) {
        if (PQgetisnull(res, r, col))
          row.cells.emplace_back(std::nullopt);
        else
          row.cells.emplace_back(
              std::string(PQgetvalue(res, r, col), static_cast<size_t>(PQgetlength(res, r, col))));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  std::string conninfo_;
  std::mutex pool_mutex_;
  std::vector<Connection> idle_;
  std::vector<Connection> relaxed_idle_;  // for query_relaxed()
  // The connection of the transaction this thread is in, per database.
  PgConnection* current() const {
    for (const auto& [db, conn] : transactions_)
      if (db == this) return conn;
    return nullptr;
  }
  void set_current(PgConnection* conn) {
    std::erase_if(transactions_, [this](const auto& t) { return t.first == this; });
    if (conn != nullptr) transactions_.emplace_back(this, conn);
  }
  static thread_local std::vector<std::pair<const PgDatabase*, PgConnection*>> transactions_;
  static thread_local std::string last_state_;  // SQLSTATE of this thread's last failure
};

thread_local std::vector<std::pair<const PgDatabase*, PgConnection*>> PgDatabase::transactions_;
thread_local std::string PgDatabase::last_state_;

Result<void> migrate(Database& db) {
  return db.transaction([&]() -> Result<void> {
    if (std::string(db.engine()) == "postgresql") {
      // Two instances starting at once create the tables one after the other.
      EF_TRY(db.query("SELECT pg_advisory_xact_lock(7460501)"));
    }
    for (const char* statement : kSchema) EF_TRY(db.query(statement));
    EF_ASSIGN(auto rows, db.query("SELECT version FROM schema_version"));
    int64_t version = 1;
    if (rows.empty())
      EF_TRY(db.query("INSERT INTO schema_version (version) VALUES (1)"));
    else
      version = rows[0].integer(0);
    if (version > kSchemaVersion) {
      return Error(Errc::database, "the database has schema version " + std::to_string(version) +
                                       ", newer than this edgeforge-fleet's " +
                                       std::to_string(kSchemaVersion) + "; run a newer one");
    }
    for (const Migration& m : kMigrations) {
      if (m.to <= version) continue;
      for (const char* statement : m.statements) EF_TRY(db.query(statement));
      EF_TRY(db.query("UPDATE schema_version SET version = $1", {int64_t{m.to}}));
    }
    return Ok{};
  });
}

}  // namespace

std::string Row::text(size_t i) const {
  return i < cells.size() && cells[i] ? *cells[i] : std::string();
}

int64_t Row::integer(size_t i) const {
  if (null(i)) return 0;
  return std::strtoll(cells[i]->c_str(), nullptr, 10);
}

Result<std::unique_ptr<Database>> open_database(const std::string& url) {
  std::unique_ptr<Database> db;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://") ||
      url.find("dbname=") != std::string::npos || url.find("host=") != std::string::npos) {
    EF_ASSIGN(db, PgDatabase::open(url));
  } else {
    EF_ASSIGN(db, SqliteDatabase::open(url));
  }
  EF_TRY(migrate(*db));
  return db;
}

}  // namespace ef::fleet
