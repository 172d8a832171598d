// The DuckDB adapter: the one place in Larder that talks to DuckDB (duckdb.h is included only by
// duckdb_engine.cc). Everything here is engine-neutral: typed columns, values and errors as
// Status, so the Parquet flusher, the Athena front-end and the dataset builder share one adapter.
//
// Usage:
//   ASSIGN_OR_RETURN(auto db, Database::Open(options));
//   ASSIGN_OR_RETURN(auto conn, db->Connect());
//   ASSIGN_OR_RETURN(auto stmt, conn->Prepare("SELECT 1 AS x"));
//   ASSIGN_OR_RETURN(auto result, stmt->Execute());
//   Chunk chunk;
//   while (true) {
//     ASSIGN_OR_RETURN(bool more, result->Next(&chunk));
//     if (!more) break;
//     ... chunk.rows[r][c] ...
//   }
#ifndef LARDER_OFFLINE_DUCKDB_ENGINE_H_
#define LARDER_OFFLINE_DUCKDB_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "larder/status.h"

namespace larder::offline {

// The column types a query can return, engine-neutral. ENUM columns read as kVarchar.
enum class TypeKind : uint8_t {
  kNull,  // the type of a bare NULL literal
  kBoolean,
  kTinyInt,
  kSmallInt,
  kInteger,
  kBigInt,
  kHugeInt,
  kUTinyInt,
  kUSmallInt,
  kUInteger,
  kUBigInt,
  kUHugeInt,
  kFloat,
  kDouble,
  kDecimal,
  kVarchar,
  kBlob,
  kUuid,
  kDate,
  kTime,
  kTimestamp,    // no time zone; TIMESTAMP_S/_MS/_NS read as this (nanoseconds truncated)
  kTimestampTz,  // an instant; values are UTC
  kInterval,
  kList,
  kArray,
  kStruct,
  kMap,
  kUnsupported,  // UNION, BIT, TIME WITH TIME ZONE, BIGNUM...: Execute refuses such columns
};

struct DataType {
  TypeKind kind = TypeKind::kNull;
  uint8_t width = 0;        // kDecimal: precision
  uint8_t scale = 0;        // kDecimal
  uint64_t array_size = 0;  // kArray
  // kList/kArray: {element}; kStruct: the fields; kMap: {key, value}.
  std::vector<DataType> children;
  std::vector<std::string> field_names;  // kStruct, parallel to children
  std::string unsupported_name;          // kUnsupported: the engine's name, for messages

  // SQL spelling in DuckDB's dialect: "BIGINT", "DECIMAL(18,3)", "VARCHAR[]", "STRUCT(a INTEGER)".
  std::string ToSql() const;

  static DataType Scalar(TypeKind kind) {
    DataType t;
    t.kind = kind;
    return t;
  }
  static DataType ListOf(DataType element);
};

struct Interval {
  int32_t months = 0;
  int32_t days = 0;
  int64_t micros = 0;
};

// One value. Which member holds it depends on the column's TypeKind:
//   kBoolean: int_value 0 or 1
//   kTinyInt..kBigInt, kUTinyInt..kUInteger: int_value
//   kUBigInt, kHugeInt, kUHugeInt, kDecimal: text, exact decimal ("-12.50" keeps the scale)
//   kUuid: text, canonical 8-4-4-4-12 lower-case hex
//   kFloat, kDouble: double_value
//   kVarchar, kBlob: text (raw bytes for kBlob)
//   kDate: int_value = days since 1970-01-01
//   kTime: int_value = microseconds since midnight
//   kTimestamp, kTimestampTz: int_value = microseconds since the epoch (UTC for kTimestampTz)
//   kInterval: interval
//   kList, kArray: children = elements; kStruct: children = fields; kMap: children = entries,
//   each a two-child Datum (key, value)
struct Datum {
  bool is_null = true;
  int64_t int_value = 0;
  double double_value = 0;
  std::string text;
  Interval interval;
  std::vector<Datum> children;

  static Datum Null() { return Datum(); }
  static Datum Int(int64_t v) {
    Datum d;
    d.is_null = false;
    d.int_value = v;
    return d;
  }
  static Datum Bool(bool v) { return Int(v ? 1 : 0); }
  static Datum Double(double v) {
    Datum d;
    d.is_null = false;
    d.double_value = v;
    return d;
  }
  static Datum Text(std::string v) {
    Datum d;
    d.is_null = false;
    d.text = std::move(v);
    return d;
  }
  static Datum List(std::vector<Datum> elements) {
    Datum d;
    d.is_null = false;
    d.children = std::move(elements);
    return d;
  }
};

struct Column {
  std::string name;
  DataType type;
};

// A batch of result rows, row-major: rows[r][c] belongs to columns()[c].
struct Chunk {
  std::vector<std::vector<Datum>> rows;
};

// The kind of a parsed statement, so callers can allow only some (the sandbox allows kSelect).
enum class StatementKind : uint8_t {
  kSelect,
  kExplain,
  kInsert,
  kUpdate,
  kDelete,
  kCreate,
  kDrop,
  kAlter,
  kCopy,
  kExport,
  kAttach,
  kDetach,
  kSet,  // SET / RESET / variable assignment
  kPragma,
  kLoad,  // INSTALL / LOAD
  kTransaction,
  kCall,
  kOther,
};

// "SELECT", "COPY", "SET"... as users write them, for error messages.
std::string_view StatementKindName(StatementKind kind);

// Quotes `name` as a DuckDB identifier: "a""b".
std::string QuoteIdentifier(std::string_view name);
// Quotes `text` as a DuckDB string literal: 'it''s'.
std::string QuoteLiteral(std::string_view text);

struct DatabaseOptions {
  // File of a persistent database; empty for an in-memory one.
  std::string path;
  // Memory the engine may use, in bytes; 0 keeps DuckDB's default (80% of RAM).
  int64_t memory_limit_bytes = 0;
  // Worker threads per query; 0 keeps DuckDB's default (one per core).
  int threads = 0;
  // Where large sorts, joins and results spill; empty keeps DuckDB's default.
  std::string temp_directory;
  // The session time zone (ICU); timestamps with time zone print and cast in it.
  std::string time_zone = "UTC";
  // Statements run once after the options above and before the sandbox closes (e.g. ATTACH an
  // in-memory catalog, CREATE SCHEMA). Any error fails Open.
  std::vector<std::string> init_sql;
  // Sandbox. When true, Open leaves the database with: no file access except under
  // `allowed_directories` (prefixes, each ending in '/') and `temp_directory`, no extension
  // installing, loading or autoloading, and a locked configuration (every SET fails). The
  // sandbox limits what SQL can reach; restricting statement kinds is the caller's job.
  bool sandbox = false;
  std::vector<std::string> allowed_directories;
};

class Connection;

// A DuckDB database instance. Thread-safe: Connect may be called from any thread; each
// connection is then used by one thread at a time.
class Database {
 public:
  static StatusOr<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A new connection. The Database must outlive it.
  StatusOr<std::unique_ptr<Connection>> Connect();

  struct Impl;

 private:
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Result;
class PreparedStatement;
class Appender;

// One session. Not thread-safe, except Interrupt(), which any thread may call while another runs
// a query on this connection (the connection must outlive that call).
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs every statement in `sql`, discarding results. Stops at the first error.
  Status Execute(std::string_view sql);

  // Parses and binds exactly one statement. InvalidArgument when `sql` holds zero or several
  // statements (naming the count) or fails to parse or bind (DuckDB's message).
  StatusOr<std::unique_ptr<PreparedStatement>> Prepare(std::string_view sql);

  // Prepare + Execute of one statement.
  StatusOr<std::unique_ptr<Result>> Query(std::string_view sql);

  // Makes the statement running on this connection (or the next one to start, if none runs)
  // fail with Cancelled as soon as the engine notices. DuckDB clears the flag when a statement
  // starts, so a caller racing with a statement start should call it again until it sees the
  // statement end.
  void Interrupt();

  // Names of the tables `sql` references, unqualified (parse only, no binding); empty when it
  // does not parse.
  std::vector<std::string> ReferencedTables(std::string_view sql);

  // An appender that adds rows to `table` (in `schema`, or the default schema when empty).
  StatusOr<std::unique_ptr<Appender>> CreateAppender(std::string_view schema,
                                                     std::string_view table);

  struct Impl;

 private:
  friend class Database;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A statement parsed and bound, not yet run. Not thread-safe. Its Connection must outlive it.
class PreparedStatement {
 public:
  ~PreparedStatement();
  StatementKind kind() const;
  // The result columns the statement will produce.
  const std::vector<Column>& columns() const;
  // Runs it. The result holds the connection busy until destroyed. Errors carry DuckDB's message
  // and a code from its error class: parse, bind, conversion and input errors InvalidArgument,
  // permission errors PermissionDenied, interrupts Cancelled, out-of-memory ResourceExhausted,
  // I/O IOError, anything else Internal.
  StatusOr<std::unique_ptr<Result>> Execute();

  // Execute, running the statement's tasks on the calling thread and calling `on_progress`
  // once before they start (with -1) and then between them (at most every `interval_ms`) with
  // the engine's estimate of the fraction done,
  // 0..1, or -1 while it has none. DuckDB estimates only with `SET enable_progress_bar = true`
  // (e.g. in DatabaseOptions::init_sql). When `on_progress` returns false the statement is
  // interrupted and Execute returns Cancelled. Errors as Execute.
  StatusOr<std::unique_ptr<Result>> ExecuteWithProgress(
      const std::function<bool(double fraction)>& on_progress, int64_t interval_ms = 100);

  struct Impl;

 private:
  friend class Connection;
  explicit PreparedStatement(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The rows of one statement, fetched in chunks (up to 2048 rows each). Not thread-safe.
class Result {
 public:
  ~Result();
  const std::vector<Column>& columns() const;
  // Replaces *chunk with the next rows; false once every row was returned. A statement
  // interrupted or failing while rows are produced returns its error here.
  StatusOr<bool> Next(Chunk* chunk);
  // Rows changed by an INSERT/UPDATE/DELETE/COPY; 0 for queries.
  int64_t rows_changed() const;

  struct Impl;

 private:
  friend class PreparedStatement;
  explicit Result(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Bulk insert into one table. Not thread-safe. Rows become visible at Close (or Flush); an
// appender destroyed without Close discards rows not yet flushed.
class Appender {
 public:
  ~Appender();
  const std::vector<DataType>& column_types() const;
  // Appends one row; row[i] is read as column_types()[i] (see Datum). Supported column types:
  // BOOLEAN, the integers up to BIGINT, DOUBLE, VARCHAR, TIMESTAMP, TIMESTAMP WITH TIME ZONE and
  // lists of those; anything else is InvalidArgument naming the column.
  Status AppendRow(const std::vector<Datum>& row);
  Status Flush();
  Status Close();

  struct Impl;

 private:
  friend class Connection;
  explicit Appender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_DUCKDB_ENGINE_H_
