// QueryEngine: read-only SQL over the offline store, in a DuckDB sandbox.
//
// Every feature group with an offline store is a view `<catalog>.<database>."<table>"`
// (DataCatalogConfig; default AwsDataCatalog.sagemaker_featurestore."<name>_<epoch>"), also
// reachable as `<database>."<table>"` and, in its query's database, unqualified. Columns: the
// features in definition order (Integral BIGINT, Fractional DOUBLE, String VARCHAR, collections
// lists of those), api_invocation_time and write_time TIMESTAMP (UTC), is_deleted BOOLEAN and the
// year/month/day/hour partition strings. A view exists with its columns and no rows before any
// file does. A deleted group keeps its table ("<name>_<epoch>") while its files remain, as
// SageMaker keeps the Glue table. CSV and Parquet files in <data_dir>/tables/ are views named after
// their file stem in sagemaker_featurestore (a way to bring label tables; docs/offline-store.md).
//
// Freshness: a query first calls Flusher::Sync, so it sees every write acknowledged before it
// started; it then reads one FileManifest snapshot, so compaction never shows it a row twice.
//
// Sandbox: each session is its own DuckDB instance that can read only the offline store, the
// tables directory and the directories in `extra_allowed_directories`; it loads no extensions,
// and its configuration is locked. Only SELECT (and EXPLAIN) statements run. A query past its
// time limit is interrupted.
//
// Thread-safety: thread-safe. Run blocks while all sessions are busy.
#ifndef LARDER_OFFLINE_QUERY_ENGINE_H_
#define LARDER_OFFLINE_QUERY_ENGINE_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog_reader.h"
#include "common/clock.h"
#include "common/thread_annotations.h"
#include "larder/status.h"
#include "offline/duckdb_engine.h"
#include "offline/flusher.h"

namespace larder::offline {

struct QueryEngineOptions {
  std::string data_dir;  // required; the same as the Flusher's
  // Queries that may run at once; each session is one DuckDB instance.
  int sessions = 2;
  // Memory for all sessions together (split evenly), in bytes.
  int64_t memory_limit_bytes = 1ll << 30;
  int threads_per_session = 2;
  // Default statement time limit.
  int64_t timeout_ms = 60'000;
  // More directories sessions may read, each ending in '/'.
  std::vector<std::string> extra_allowed_directories;
  const Clock* clock = nullptr;  // not owned; nullptr means Clock::Real()
};

struct QueryRequest {
  std::string sql;
  // The QueryExecutionContext: unqualified tables resolve in `database`. Empty means
  // sagemaker_featurestore (also what "default" means here).
  std::string database;
  std::string catalog;     // empty or AwsDataCatalog (case-insensitive)
  int64_t timeout_ms = 0;  // 0 = QueryEngineOptions::timeout_ms
};

struct QueryStats {
  int64_t queue_micros = 0;     // waiting for a free session
  int64_t sync_micros = 0;      // flushing recent writes (the freshness barrier)
  int64_t planning_micros = 0;  // refreshing views, parsing and binding
  int64_t execution_micros = 0;
  uint64_t data_scanned_bytes = 0;  // sizes of the Parquet files of the tables it references
  uint64_t rows = 0;
};

// Receives a query's output. Called on the thread that runs the query.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual Status Begin(const std::vector<Column>& columns) = 0;
  virtual Status Rows(const Chunk& chunk) = 0;
};

class QueryEngine;

// Lets another thread cancel one Run. Thread-safe; must outlive the Run it is passed to.
class QueryControl {
 public:
  // Makes the run fail with Cancelled as soon as possible (before it starts, if it has not).
  void Cancel() EXCLUDES(mu_);
  bool cancelled() const EXCLUDES(mu_);

 private:
  friend class QueryEngine;
  mutable Mutex mu_;
  bool cancelled_ GUARDED_BY(mu_) = false;
  int session_ GUARDED_BY(mu_) = -1;  // the session running it, or -1
  QueryEngine* engine_ GUARDED_BY(mu_) = nullptr;
};

class QueryEngine {
 public:
  // `catalog` and `flusher` are not owned and must outlive the engine.
  static StatusOr<std::unique_ptr<QueryEngine>> Open(const QueryEngineOptions& options,
                                                     const catalog::CatalogReader* catalog,
                                                     Flusher* flusher);
  ~QueryEngine();
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  // Runs one read-only statement, streaming its rows into `sink`. Errors: InvalidArgument for
  // bad SQL or a statement that is not a query (the message names its kind), PermissionDenied
  // for a path outside the sandbox, Cancelled after control->Cancel(), DeadlineExceeded past
  // the time limit, ResourceExhausted when the memory limit is hit; each carries DuckDB's text.
  StatusOr<QueryStats> Run(const QueryRequest& request, RowSink* sink, QueryControl* control);

  // Directory of user tables: <data_dir>/tables.
  std::string TablesDir() const;

 private:
  friend class QueryControl;
  struct Session;

  QueryEngine(const QueryEngineOptions& options, const catalog::CatalogReader* catalog,
              Flusher* flusher);
  // Creates the sessions' temp directories and empty Session slots; DuckDB instances are opened
  // by EnsureSessionOpen on a session's first query, so an idle server holds none.
  Status OpenSessions();
  // REQUIRES: the caller holds session `index` (AcquireSession), so nothing else touches it;
  // it is not yet marked running, so CancelSession/Watchdog never see a half-open session.
  Status EnsureSessionOpen(int index);
  std::string SessionTempDir(int index) const;
  StatusOr<int> AcquireSession(int64_t deadline_micros) EXCLUDES(mu_);
  void ReleaseSession(int index) EXCLUDES(mu_);
  // REQUIRES: the caller holds session `s`.
  Status RefreshViews(Session* s, const FileManifest::Snapshot& snapshot,
                      std::map<std::string, uint64_t>* bytes_by_table);
  StatusOr<QueryStats> RunOnSession(int index, const QueryRequest& request, RowSink* sink,
                                    QueryControl* control, int64_t deadline_micros);
  // Interrupts session `index` if it is running (Cancel and time limits).
  void CancelSession(int index) EXCLUDES(mu_);
  void Watchdog() EXCLUDES(mu_);

  const QueryEngineOptions options_;
  const catalog::CatalogReader* const catalog_;
  Flusher* const flusher_;
  const Clock* const clock_;
  std::vector<std::unique_ptr<Session>> sessions_;

  Mutex mu_;
  std::condition_variable_any cv_;
  std::vector<bool> busy_ GUARDED_BY(mu_);
  // Per session while it runs a statement: its deadline and whether it must be interrupted.
  std::vector<int64_t> deadline_ GUARDED_BY(mu_);
  std::vector<bool> running_ GUARDED_BY(mu_);
  std::vector<bool> interrupt_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread watchdog_;
};

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_QUERY_ENGINE_H_
