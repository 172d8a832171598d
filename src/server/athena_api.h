// AthenaApi: the Amazon Athena query API (json 1.1, X-Amz-Target "AmazonAthena.<Op>") over the
// offline store's QueryEngine: StartQueryExecution, GetQueryExecution, GetQueryResults,
// StopQueryExecution, ListQueryExecutions and BatchGetQueryExecution.
//
// Queries run asynchronously on a pool of workers (one per QueryEngine session) and go through
// QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED. A finished query's rows are kept as Athena
// text (NULL stays absent) in an internal DuckDB results database for GetQueryResults paging,
// and written as CSV with a header to <data_dir>/query-results/<id>.csv -- the local stand-in for
// ResultConfiguration.OutputLocation s3://<bucket>/<prefix>/<id>.csv. Query history lives in
// memory only (docs/offline-store.md).
//
// Thread-safety: thread-safe; Handle may be called concurrently from every I/O thread.
#ifndef LARDER_SERVER_ATHENA_API_H_
#define LARDER_SERVER_ATHENA_API_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/thread_annotations.h"
#include "larder/status.h"
#include "offline/duckdb_engine.h"
#include "offline/query_engine.h"
#include "server/http_types.h"
#include "server/model_validator.h"

namespace larder::server {

struct AthenaApiOptions {
  std::string data_dir;  // required: results go to <data_dir>/query-results
  // Worker threads running queries; match QueryEngineOptions::sessions.
  int workers = 2;
  // StartQueryExecution answers TooManyRequestsException beyond this many queued queries.
  size_t max_queued = 1000;
  // Finished queries whose rows stay pageable by GetQueryResults (older ones: CSV only).
  size_t max_retained_results = 100;
  // Query executions remembered for Get/List (oldest forgotten first).
  size_t max_executions = 10'000;
  // Memory of the results database, in bytes (it spills to <data_dir>/tmp beyond that).
  int64_t results_memory_limit_bytes = 512ll << 20;
  // Used when a request has no ResultConfiguration.OutputLocation.
  std::string default_output_location = "s3://larder-query-results/";
  const Clock* clock = nullptr;  // not owned; nullptr means Clock::Real()
};

// Athena's text for one value of type `type` (GetQueryResults VarCharValue and CSV cells):
// double as Java prints it ("0.92", "3.0", "1.0E-5"), timestamps "2024-01-02 03:04:05.000",
// arrays "[a, b]", rows "{x=1, y=b}". A null Datum has no text: callers leave it absent.
std::string AthenaText(const offline::Datum& value, const offline::DataType& type);
// Athena's type name for a column: varchar, bigint, double, boolean, timestamp, array, row...
std::string AthenaTypeName(const offline::DataType& type);

class AthenaApi final : public ApiHandler {
 public:
  // `engine` is not owned and must outlive the handler. Starts the workers.
  static StatusOr<std::unique_ptr<AthenaApi>> Create(offline::QueryEngine* engine,
                                                     AthenaApiOptions options);
  ~AthenaApi() override;  // Stop()

  void Handle(const HttpRequest& req, HttpResponse* resp) override;

  // Cancels running and queued queries and joins the workers. Idempotent. Afterwards
  // StartQueryExecution answers ServiceUnavailable; the other operations still answer.
  void Stop() EXCLUDES(mu_);

  struct Execution;

 private:
  AthenaApi(offline::QueryEngine* engine, AthenaApiOptions options,
            std::unique_ptr<ServiceModel> model);

  // A connection to the database of retained result tables. The database is opened on first
  // use, so an idle server loads no DuckDB instance. Thread-safe.
  StatusOr<std::unique_ptr<offline::Connection>> ConnectResults() EXCLUDES(results_mu_);

  StatusOr<std::string> Dispatch(const std::string& op, const rapidjson::Value& in) EXCLUDES(mu_);
  StatusOr<std::string> StartQueryExecution(const rapidjson::Value& in) EXCLUDES(mu_);
  StatusOr<std::string> GetQueryExecution(const rapidjson::Value& in) EXCLUDES(mu_);
  StatusOr<std::string> GetQueryResults(const rapidjson::Value& in) EXCLUDES(mu_);
  StatusOr<std::string> StopQueryExecution(const rapidjson::Value& in) EXCLUDES(mu_);
  StatusOr<std::string> ListQueryExecutions(const rapidjson::Value& in) EXCLUDES(mu_);
  StatusOr<std::string> BatchGetQueryExecution(const rapidjson::Value& in) EXCLUDES(mu_);

  std::shared_ptr<Execution> Find(const std::string& id) EXCLUDES(mu_);
  void Worker() EXCLUDES(mu_);
  // Runs one query on the calling worker; `conn` is the worker's results connection.
  void Execute(const std::shared_ptr<Execution>& e, offline::Connection* conn) EXCLUDES(mu_);
  // Drops result tables beyond max_retained_results and executions beyond max_executions.
  void Evict(offline::Connection* conn) EXCLUDES(mu_);

  offline::QueryEngine* const engine_;
  const AthenaApiOptions options_;
  const Clock* const clock_;
  const std::unique_ptr<ServiceModel> model_;
  Mutex results_mu_;
  std::unique_ptr<offline::Database> results_ GUARDED_BY(results_mu_);

  Mutex mu_;
  std::condition_variable_any cv_;
  std::unordered_map<std::string, std::shared_ptr<Execution>> executions_ GUARDED_BY(mu_);
  std::deque<std::string> order_ GUARDED_BY(mu_);     // ids, oldest first
  std::deque<std::string> queue_ GUARDED_BY(mu_);     // ids waiting for a worker
  std::deque<std::string> retained_ GUARDED_BY(mu_);  // ids with a result table, oldest first
  std::unordered_map<std::string, std::string> tokens_ GUARDED_BY(mu_);  // ClientRequestToken -> id
  uint64_t next_table_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace larder::server

#endif  // LARDER_SERVER_ATHENA_API_H_
