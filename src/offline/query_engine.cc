#include "offline/query_engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/status_macros.h"

namespace larder::offline {
namespace {

constexpr std::string_view kCatalog = "awsdatacatalog";
constexpr std::string_view kDefaultDatabase = "sagemaker_featurestore";
constexpr std::string_view kPartitionKeys[] = {"year", "month", "day", "hour"};

// Presto/Athena functions the SageMaker SDK's queries use that DuckDB lacks, as session macros.
// from_unixtime(seconds) is a UTC TIMESTAMP; from_iso8601_timestamp(text) a TIMESTAMP WITH TIME
// ZONE; to_unixtime(timestamp) DOUBLE seconds.
constexpr std::string_view kPrestoMacros[] = {
    "CREATE OR REPLACE TEMP MACRO from_unixtime(x) AS "
    "make_timestamp(CAST(round(CAST(x AS DOUBLE) * 1000000) AS BIGINT))",
    "CREATE OR REPLACE TEMP MACRO from_iso8601_timestamp(x) AS CAST(x AS TIMESTAMPTZ)",
    "CREATE OR REPLACE TEMP MACRO to_unixtime(x) AS epoch_us(x) / 1000000.0",
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsPlainName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string FeatureSqlType(const catalog::FeatureDefinition& f) {
  std::string_view scalar = "VARCHAR";
  if (f.type == catalog::FeatureType::kIntegral) scalar = "BIGINT";
  if (f.type == catalog::FeatureType::kFractional) scalar = "DOUBLE";
  if (f.collection == catalog::CollectionType::kNone) return std::string(scalar);
  return std::string(scalar) + "[]";
}

// The view over one group's files: its current schema, typed, whatever subset of columns the
// files hold (older files lack features added since).
std::string ViewSql(const catalog::FeatureGroup& g, const FileManifest::FileList& files) {
  bool partitions = true;
  for (const auto& f : g.features) {
    for (std::string_view key : kPartitionKeys) {
      if (Lower(f.name) == key) partitions = false;
    }
  }
  std::string empty;  // the typed, empty relation
  std::string outer;  // the final column list
  auto add = [&](const std::string& name, std::string_view stored, std::string_view shown) {
    if (!empty.empty()) {
      empty += ", ";
      outer += ", ";
    }
    std::string q = QuoteIdentifier(name);
    empty += fmt::format("CAST(NULL AS {}) AS {}", files.empty() ? shown : stored, q);
    outer += stored == shown ? q : fmt::format("CAST({} AS {}) AS {}", q, shown, q);
  };
  for (const auto& f : g.features) {
    std::string t = FeatureSqlType(f);
    add(f.name, t, t);
  }
  add("api_invocation_time", "TIMESTAMPTZ", "TIMESTAMP");
  add("write_time", "TIMESTAMPTZ", "TIMESTAMP");
  add("is_deleted", "BOOLEAN", "BOOLEAN");
  if (partitions) {
    for (std::string_view key : kPartitionKeys) add(std::string(key), "VARCHAR", "VARCHAR");
  }
  if (files.empty()) return "SELECT " + empty + " WHERE false";
  std::string list = "[";
  for (size_t i = 0; i < files.size(); ++i) {
    if (i > 0) list += ", ";
    list += QuoteLiteral(files[i].path);
  }
  list += "]";
  std::string read = "read_parquet(" + list + ", union_by_name = true";
  read += partitions
              ? ", hive_partitioning = true, hive_types = {'year': VARCHAR, 'month': VARCHAR, "
                "'day': VARCHAR, 'hour': VARCHAR})"
              : ", hive_partitioning = false)";
  return fmt::format("SELECT {} FROM (SELECT {} WHERE false UNION ALL BY NAME SELECT * FROM {})",
                     outer, empty, read);
}

// The view over a deleted group's files: the columns its files hold, metadata and partitions
// last (features added later come after the metadata in the files' union otherwise).
std::string ArchivedViewSql(const FileManifest::FileList& files) {
  std::string list = "[";
  for (size_t i = 0; i < files.size(); ++i) {
    if (i > 0) list += ", ";
    list += QuoteLiteral(files[i].path);
  }
  list += "]";
  return "SELECT * EXCLUDE (api_invocation_time, write_time, is_deleted, year, month, day, hour), "
         "CAST(api_invocation_time AS TIMESTAMP) AS api_invocation_time, "
         "CAST(write_time AS TIMESTAMP) AS write_time, is_deleted, year, month, day, hour FROM "
         "read_parquet(" +
         list +
         ", union_by_name = true, hive_partitioning = true, hive_types = {'year': VARCHAR, "
         "'month': VARCHAR, "
         "'day': VARCHAR, 'hour': VARCHAR})";
}

}  // namespace

struct QueryEngine::Session {
  std::unique_ptr<Database> db;
  std::unique_ptr<Connection> conn;
  // A connection to an empty sandboxed database, for parsing table names out of a query.
  std::unique_ptr<Database> names_db;
  std::unique_ptr<Connection> names;
  std::map<std::string, std::string> views;  // qualified name -> the SQL it was created with
  std::set<std::string> schemas;             // schemas created in awsdatacatalog
};

void QueryControl::Cancel() {
  MutexLock l(&mu_);
  cancelled_ = true;
  if (engine_ != nullptr && session_ >= 0) engine_->CancelSession(session_);
}

bool QueryControl::cancelled() const {
  MutexLock l(&mu_);
  return cancelled_;
}

QueryEngine::QueryEngine(const QueryEngineOptions& options, const catalog::CatalogReader* catalog,
                         Flusher* flusher)
    : options_(options),
      catalog_(catalog),
      flusher_(flusher),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()) {}

StatusOr<std::unique_ptr<QueryEngine>> QueryEngine::Open(const QueryEngineOptions& options,
                                                         const catalog::CatalogReader* catalog,
                                                         Flusher* flusher) {
  if (options.sessions < 1) {
    return Status::InvalidArgument(
        fmt::format("query sessions must be at least 1, got {}", options.sessions));
  }
  std::unique_ptr<QueryEngine> e(new QueryEngine(options, catalog, flusher));
  RETURN_IF_ERROR(e->OpenSessions());
  {
    MutexLock l(&e->mu_);
    size_t n = static_cast<size_t>(options.sessions);
    e->busy_.assign(n, false);
    e->deadline_.assign(n, 0);
    e->running_.assign(n, false);
    e->interrupt_.assign(n, false);
  }
  QueryEngine* raw = e.get();
  e->watchdog_ = std::thread([raw] { raw->Watchdog(); });
  return e;
}

QueryEngine::~QueryEngine() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

std::string QueryEngine::TablesDir() const { return options_.data_dir + "/tables"; }

Status QueryEngine::OpenSessions() {
  for (int i = 0; i < options_.sessions; ++i) {
    RETURN_IF_ERROR(Env::Posix()->CreateDirs(SessionTempDir(i)));
    auto s = std::make_unique<Session>();
    s->schemas.insert(std::string(kDefaultDatabase));
    sessions_.push_back(std::move(s));
  }
  return Status::OK();
}

std::string QueryEngine::SessionTempDir(int index) const {
  return fmt::format("{}/tmp/query-session-{}", options_.data_dir, index);
}

Status QueryEngine::EnsureSessionOpen(int index) {
  Session* s = sessions_[static_cast<size_t>(index)].get();
  if (s->conn != nullptr) return Status::OK();
  const OfflineLayout& layout = flusher_->layout();
  {
    DatabaseOptions o;
    o.memory_limit_bytes =
        std::max<int64_t>(options_.memory_limit_bytes / options_.sessions, 64ll << 20);
    o.threads = options_.threads_per_session;
    o.temp_directory = SessionTempDir(index);
    o.init_sql = {
        fmt::format("ATTACH ':memory:' AS {}", kCatalog),
        fmt::format("CREATE SCHEMA {}.{}", kCatalog, kDefaultDatabase),
        fmt::format("USE {}.{}", kCatalog, kDefaultDatabase),
        // Presto compares varchar with timestamp (an ISO-8601 event_time with a label's
        // timestamp); DuckDB does that only with the old implicit casts.
        "SET GLOBAL old_implicit_casting = true",
    };
    o.sandbox = true;
    o.allowed_directories = {layout.StoreDir() + "/", TablesDir() + "/"};
    for (const std::string& d : options_.extra_allowed_directories)
      o.allowed_directories.push_back(d);
    // Open into locals and publish conn last: a session counts as open only when complete.
    ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(o));
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, db->Connect());
    for (std::string_view macro : kPrestoMacros) RETURN_IF_ERROR(conn->Execute(macro));
    DatabaseOptions names_options;
    names_options.memory_limit_bytes = 16ll << 20;
    names_options.threads = 1;
    names_options.sandbox = true;
    ASSIGN_OR_RETURN(s->names_db, Database::Open(names_options));
    ASSIGN_OR_RETURN(s->names, s->names_db->Connect());
    s->db = std::move(db);
    s->conn = std::move(conn);
  }
  return Status::OK();
}

StatusOr<int> QueryEngine::AcquireSession(int64_t deadline_micros) {
  MutexLock l(&mu_);
  while (true) {
    if (stopping_) return Status::Unavailable("the query engine is shutting down");
    for (size_t i = 0; i < busy_.size(); ++i) {
      if (!busy_[i]) {
        busy_[i] = true;
        return static_cast<int>(i);
      }
    }
    int64_t left = deadline_micros - clock_->NowMicros();
    if (left <= 0) {
      return Status::DeadlineExceeded("query timed out waiting for a free query session");
    }
    cv_.wait_for(mu_, std::chrono::microseconds(left));
  }
}

void QueryEngine::ReleaseSession(int index) {
  {
    MutexLock l(&mu_);
    busy_[static_cast<size_t>(index)] = false;
    running_[static_cast<size_t>(index)] = false;
    interrupt_[static_cast<size_t>(index)] = false;
  }
  cv_.notify_all();
}

void QueryEngine::CancelSession(int index) {
  {
    MutexLock l(&mu_);
    size_t i = static_cast<size_t>(index);
    if (!running_[i]) return;
    interrupt_[i] = true;
    sessions_[i]->conn->Interrupt();
  }
  cv_.notify_all();
}

void QueryEngine::Watchdog() {
  MutexLock l(&mu_);
  while (!stopping_) {
    int64_t now = clock_->NowMicros();
    int64_t next = INT64_MAX;
    bool hot = false;
    for (size_t i = 0; i < running_.size(); ++i) {
      if (!running_[i]) continue;
      if (!interrupt_[i] && now < deadline_[i]) {
        next = std::min(next, deadline_[i]);
        continue;
      }
      // DuckDB forgets an interrupt that lands just before a statement starts: repeat it until
      // the statement is seen to end.
      interrupt_[i] = true;
      sessions_[i]->conn->Interrupt();
      hot = true;
    }
    if (hot) {
      cv_.wait_for(mu_, std::chrono::milliseconds(5));
    } else if (next == INT64_MAX) {
      cv_.wait(mu_);
    } else {
      cv_.wait_for(mu_, std::chrono::microseconds(next - now));
    }
  }
}

Status QueryEngine::RefreshViews(Session* s, const FileManifest::Snapshot& snapshot,
                                 std::map<std::string, uint64_t>* bytes_by_table) {
  std::map<std::string, std::string> desired;
  std::set<std::string> schemas;
  std::set<std::string> group_tables;  // lower-case names in the default database
  std::set<std::string> live_roots;
  catalog_->ForEach([&](const catalog::GroupPtr& g) {
    if (!g->offline_enabled) return;
    auto root = OfflineLayout::GroupRoot(*g);
    if (!root.ok()) return;
    live_roots.insert(*root);
    const FileManifest::FileList& files = snapshot.Files(*root);
    std::string table = TableNameOf(*g);
    std::string db = Lower(DatabaseOf(*g));
    schemas.insert(db);
    if (db == kDefaultDatabase) group_tables.insert(Lower(table));
    uint64_t bytes = 0;
    for (const OfflineFile& f : files) bytes += f.size_bytes;
    (*bytes_by_table)[Lower(table)] += bytes;
    desired[fmt::format("{}.{}.{}", kCatalog, QuoteIdentifier(db), QuoteIdentifier(table))] =
        ViewSql(*g, files);
  });
  // Deleted groups keep their table while they have files (SageMaker keeps the Glue table):
  // root "<name>-<epoch>" is table "<name>_<epoch>", typed by the files themselves.
  for (const auto& [root, files] : snapshot.version().by_root) {
    size_t dash = root.rfind('-');
    if (files->empty() || live_roots.count(root) != 0 || dash == std::string::npos) continue;
    std::string table = root.substr(0, dash) + "_" + root.substr(dash + 1);
    if (group_tables.count(Lower(table)) != 0) continue;
    group_tables.insert(Lower(table));
    uint64_t bytes = 0;
    for (const OfflineFile& f : *files) bytes += f.size_bytes;
    (*bytes_by_table)[Lower(table)] += bytes;
    desired[fmt::format("{}.{}.{}", kCatalog, kDefaultDatabase, QuoteIdentifier(table))] =
        ArchivedViewSql(*files);
  }
  // User tables: <data_dir>/tables/<name>.csv|.parquet.
  auto entries = Env::Posix()->ListDir(TablesDir());
  if (entries.ok()) {
    for (const DirEntry& e : *entries) {
      if (e.is_dir) continue;
      std::string_view name = e.name;
      std::string_view reader;
      size_t dot = name.rfind('.');
      if (dot == std::string_view::npos) continue;
      std::string ext = Lower(name.substr(dot + 1));
      if (ext == "csv") reader = "read_csv";
      if (ext == "parquet") reader = "read_parquet";
      std::string stem(name.substr(0, dot));
      if (reader.empty() || !IsPlainName(stem) || group_tables.count(Lower(stem)) != 0) continue;
      desired[fmt::format("{}.{}.{}", kCatalog, kDefaultDatabase, QuoteIdentifier(stem))] =
          fmt::format("SELECT * FROM {}({})", reader, QuoteLiteral(TablesDir() + "/" + e.name));
    }
  }
  for (const std::string& db : schemas) {
    if (s->schemas.count(db) != 0) continue;
    RETURN_IF_ERROR(s->conn->Execute(
        fmt::format("CREATE SCHEMA IF NOT EXISTS {}.{}", kCatalog, QuoteIdentifier(db))));
    s->schemas.insert(db);
  }
  for (auto it = s->views.begin(); it != s->views.end();) {
    if (desired.count(it->first) != 0) {
      ++it;
      continue;
    }
    RETURN_IF_ERROR(s->conn->Execute("DROP VIEW IF EXISTS " + it->first));
    it = s->views.erase(it);
  }
  for (const auto& [name, sql] : desired) {
    auto it = s->views.find(name);
    if (it != s->views.end() && it->second == sql) continue;
    Status st = s->conn->Execute("CREATE OR REPLACE VIEW " + name + " AS " + sql);
    if (!st.ok()) {
      // One unreadable table must not take the others down: queries on it fail to bind.
      spdlog::warn("query engine: view {} unavailable: {}", name, st.ToString());
      Status dropped = s->conn->Execute("DROP VIEW IF EXISTS " + name);
      if (!dropped.ok()) return dropped;
      s->views.erase(name);
      continue;
    }
    s->views[name] = sql;
  }
  return Status::OK();
}

StatusOr<QueryStats> QueryEngine::Run(const QueryRequest& request, RowSink* sink,
                                      QueryControl* control) {
  const int64_t start = clock_->NowMicros();
  const int64_t timeout_ms = request.timeout_ms > 0 ? request.timeout_ms : options_.timeout_ms;
  const int64_t deadline = start + timeout_ms * 1000;
  if (control != nullptr && control->cancelled()) return Status::Cancelled("query was cancelled");
  ASSIGN_OR_RETURN(int index, AcquireSession(deadline));
  const int64_t acquired = clock_->NowMicros();
  if (control != nullptr) {
    MutexLock l(&control->mu_);
    control->engine_ = this;
    control->session_ = index;
  }
  StatusOr<QueryStats> result = RunOnSession(index, request, sink, control, deadline);
  if (control != nullptr) {
    MutexLock l(&control->mu_);
    control->engine_ = nullptr;
    control->session_ = -1;
  }
  ReleaseSession(index);
  if (result.ok()) result->queue_micros = acquired - start;
  if (!result.ok()) {
    Status s = result.status();
    bool cancelled = control != nullptr && control->cancelled();
    if (cancelled) return Status::Cancelled("query was cancelled");
    if (s.code() == StatusCode::kCancelled || (s.code() == StatusCode::kDeadlineExceeded)) {
      return Status::DeadlineExceeded(
          fmt::format("query exceeded its time limit of {} ms and was stopped", timeout_ms));
    }
    return s;
  }
  return result;
}

StatusOr<QueryStats> QueryEngine::RunOnSession(int index, const QueryRequest& request,
                                               RowSink* sink, QueryControl* control,
                                               int64_t deadline) {
  RETURN_IF_ERROR(EnsureSessionOpen(index));
  Session* s = sessions_[static_cast<size_t>(index)].get();
  QueryStats stats;
  int64_t t0 = clock_->NowMicros();
  // Freshness: every write acknowledged before now becomes visible.
  RETURN_IF_ERROR(flusher_->Sync(deadline));
  int64_t t1 = clock_->NowMicros();
  stats.sync_micros = t1 - t0;

  std::unique_ptr<FileManifest::Snapshot> snapshot = flusher_->manifest()->Acquire();
  std::map<std::string, uint64_t> bytes_by_table;
  RETURN_IF_ERROR(RefreshViews(s, *snapshot, &bytes_by_table));

  std::string catalog_name = Lower(request.catalog);
  if (!catalog_name.empty() && catalog_name != kCatalog) {
    return Status::InvalidArgument(
        fmt::format("catalog '{}' does not exist: the offline store's catalog is AwsDataCatalog",
                    request.catalog));
  }
  std::string db = Lower(request.database);
  if (db.empty() || db == "default") db = std::string(kDefaultDatabase);
  if (s->schemas.count(db) == 0) {
    return Status::InvalidArgument(fmt::format(
        "database '{}' does not exist in AwsDataCatalog; feature group tables are in '{}'",
        request.database, kDefaultDatabase));
  }
  RETURN_IF_ERROR(s->conn->Execute(fmt::format("USE {}.{}", kCatalog, QuoteIdentifier(db))));

  {
    MutexLock l(&mu_);
    size_t i = static_cast<size_t>(index);
    running_[i] = true;
    interrupt_[i] = false;
    deadline_[i] = deadline;
  }
  cv_.notify_all();
  auto stop_running = [&] {
    MutexLock l(&mu_);
    running_[static_cast<size_t>(index)] = false;
  };
  if (control != nullptr && control->cancelled()) {
    stop_running();
    return Status::Cancelled("query was cancelled");
  }

  auto body = [&]() -> Status {
    ASSIGN_OR_RETURN(auto stmt, s->conn->Prepare(request.sql));
    if (stmt->kind() != StatementKind::kSelect && stmt->kind() != StatementKind::kExplain) {
      return Status::InvalidArgument(
          fmt::format("only SELECT queries can run on the offline store (it is read-only); got a "
                      "statement of type {}",
                      StatementKindName(stmt->kind())));
    }
    // Names come from a connection without views: DuckDB reports a view's base tables instead.
    for (const std::string& t : s->names->ReferencedTables(request.sql)) {
      auto it = bytes_by_table.find(Lower(t));
      if (it != bytes_by_table.end()) stats.data_scanned_bytes += it->second;
    }
    int64_t t2 = clock_->NowMicros();
    stats.planning_micros = t2 - t1;
    ASSIGN_OR_RETURN(auto result, stmt->Execute());
    RETURN_IF_ERROR(sink->Begin(result->columns()));
    Chunk chunk;
    while (true) {
      ASSIGN_OR_RETURN(bool more, result->Next(&chunk));
      if (!more) break;
      stats.rows += chunk.rows.size();
      RETURN_IF_ERROR(sink->Rows(chunk));
    }
    stats.execution_micros = clock_->NowMicros() - t2;
    return Status::OK();
  };
  Status st = body();
  stop_running();
  if (!st.ok()) return st;
  return stats;
}

}  // namespace larder::offline
