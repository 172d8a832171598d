#include "server/athena_api.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <random>

#include "common/status_macros.h"
#include "offline/file_env.h"
#include "offline/offline_layout.h"
#include "server/error_map.h"
#include "server/service_models.h"

namespace larder::server {

using offline::DataType;
using offline::Datum;
using offline::TypeKind;

namespace {

constexpr std::string_view kTargetPrefix = "AmazonAthena.";
constexpr int kDefaultMaxResults = 1000;
constexpr int kDefaultMaxListResults = 50;

enum class State { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

std::string_view StateName(State s) {
  switch (s) {
    case State::kQueued:
      return "QUEUED";
    case State::kRunning:
      return "RUNNING";
    case State::kSucceeded:
      return "SUCCEEDED";
    case State::kFailed:
      return "FAILED";
    case State::kCancelled:
      return "CANCELLED";
  }
  return "FAILED";
}

bool Finished(State s) {
  return s == State::kSucceeded || s == State::kFailed || s == State::kCancelled;
}

// Java's Double.toString, which Athena uses for double values.
std::string JavaDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, end);  // shortest round-trip digits: "-1.25e+03"
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out;
  double a = std::fabs(d);
  if (a >= 1e-3 && a < 1e7) {
    if (exp >= 0) {
      if (digits.size() <= static_cast<size_t>(exp) + 1)
        digits.append(static_cast<size_t>(exp) + 1 - digits.size(), '0');
      std::string frac = digits.substr(static_cast<size_t>(exp) + 1);
      out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + (frac.empty() ? "0" : frac);
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0") + "E" +
          std::to_string(exp);
  }
  return neg ? "-" + out : out;
}

std::string Timestamp(int64_t micros, bool with_zone) {
  offline::UtcTime t = offline::ToUtc(micros);
  std::string s = fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", t.year, t.month, t.day,
                              t.hour, t.minute, t.second);
  s += fmt::format(".{:03d}", t.micros / 1000);  // Athena's timestamp(3)
  if (with_zone) s += " UTC";
  return s;
}

std::string Interval(const offline::Interval& i) {
  if (i.days == 0 && i.micros == 0)
    return fmt::format("{}-{}", i.months / 12, std::abs(i.months % 12));
  int64_t micros = i.micros + static_cast<int64_t>(i.days) * 86'400'000'000 +
                   static_cast<int64_t>(i.months) * 30 * 86'400'000'000;
  bool neg = micros < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-micros) : static_cast<uint64_t>(micros);
  uint64_t days = u / 86'400'000'000;
  u %= 86'400'000'000;
  return fmt::format("{}{} {:02d}:{:02d}:{:02d}.{:03d}", neg ? "-" : "", days, u / 3'600'000'000,
                     u / 60'000'000 % 60, u / 1'000'000 % 60, u / 1000 % 1000);
}

std::string NestedText(const Datum& v, const DataType& t) {
  return v.is_null ? "null" : AthenaText(v, t);
}

std::string JsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(JsonWriter& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string NewQueryId(std::mt19937_64* rng) {
  uint64_t hi = (*rng)(), lo = (*rng)();
  hi = (hi & ~uint64_t{0xF000}) | uint64_t{0x4000};            // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 10
  std::string hex = fmt::format("{:016x}{:016x}", hi, lo);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

const rapidjson::Value* Member(const rapidjson::Value& in, const char* name) {
  if (!in.IsObject()) return nullptr;
  auto it = in.FindMember(name);
  if (it == in.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string StringMember(const rapidjson::Value& in, const char* name) {
  const rapidjson::Value* v = Member(in, name);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength())
                                       : std::string();
}

Status NotFound(const std::string& id) {
  return Status::InvalidArgument(fmt::format("QueryExecution {} was not found", id));
}

}  // namespace

std::string AthenaText(const Datum& v, const DataType& t) {
  switch (t.kind) {
    case TypeKind::kNull:
      return "";
    case TypeKind::kBoolean:
      return v.int_value != 0 ? "true" : "false";
    case TypeKind::kTinyInt:
    case TypeKind::kSmallInt:
    case TypeKind::kInteger:
    case TypeKind::kBigInt:
    case TypeKind::kUTinyInt:
    case TypeKind::kUSmallInt:
    case TypeKind::kUInteger:
      return std::to_string(v.int_value);
    case TypeKind::kFloat:
    case TypeKind::kDouble:
      return JavaDouble(v.double_value);
    case TypeKind::kBlob: {
      std::string out;
      for (unsigned char c : v.text) {
        if (!out.empty()) out += ' ';
        out += fmt::format("{:02x}", c);
      }
      return out;
    }
    case TypeKind::kDate:
      return Timestamp(v.int_value * 86'400'000'000, false).substr(0, 10);
    case TypeKind::kTime:
      return Timestamp(v.int_value, false).substr(11);
    case TypeKind::kTimestamp:
      return Timestamp(v.int_value, false);
    case TypeKind::kTimestampTz:
      return Timestamp(v.int_value, true);
    case TypeKind::kInterval:
      return Interval(v.interval);
    case TypeKind::kList:
    case TypeKind::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < v.children.size(); ++i) {
        if (i > 0) out += ", ";
        out += NestedText(v.children[i], t.children.at(0));
      }
      return out + "]";
    }
    case TypeKind::kStruct: {
      std::string out = "{";
      for (size_t i = 0; i < v.children.size() && i < t.children.size(); ++i) {
        if (i > 0) out += ", ";
        out += t.field_names[i] + "=" + NestedText(v.children[i], t.children[i]);
      }
      return out + "}";
    }
    case TypeKind::kMap: {
      std::string out = "{";
      for (size_t i = 0; i < v.children.size(); ++i) {
        if (i > 0) out += ", ";
        const Datum& entry = v.children[i];
        out += NestedText(entry.children.at(0), t.children.at(0)) + "=" +
               NestedText(entry.children.at(1), t.children.at(1));
      }
      return out + "}";
    }
    default:
      return v.text;  // varchar, uuid, decimal and the wide integers are text already
  }
}

std::string AthenaTypeName(const DataType& t) {
  switch (t.kind) {
    case TypeKind::kNull:
      return "unknown";
    case TypeKind::kBoolean:
      return "boolean";
    case TypeKind::kTinyInt:
      return "tinyint";
    case TypeKind::kSmallInt:
    case TypeKind::kUTinyInt:
      return "smallint";
    case TypeKind::kInteger:
    case TypeKind::kUSmallInt:
      return "integer";
    case TypeKind::kBigInt:
    case TypeKind::kUInteger:
      return "bigint";
    case TypeKind::kHugeInt:
    case TypeKind::kUBigInt:
    case TypeKind::kUHugeInt:
    case TypeKind::kDecimal:
      return "decimal";
    case TypeKind::kFloat:
      return "float";
    case TypeKind::kDouble:
      return "double";
    case TypeKind::kVarchar:
      return "varchar";
    case TypeKind::kBlob:
      return "varbinary";
    case TypeKind::kUuid:
      return "uuid";
    case TypeKind::kDate:
      return "date";
    case TypeKind::kTime:
      return "time";
    case TypeKind::kTimestamp:
      return "timestamp";
    case TypeKind::kTimestampTz:
      return "timestamp with time zone";
    case TypeKind::kInterval:
      return "interval day to second";
    case TypeKind::kList:
    case TypeKind::kArray:
      return "array";
    case TypeKind::kStruct:
      return "row";
    case TypeKind::kMap:
      return "map";
    case TypeKind::kUnsupported:
      return "unknown";
  }
  return "unknown";
}

namespace {

// Athena's ColumnInfo Precision for a type.
int Precision(const DataType& t) {
  switch (t.kind) {
    case TypeKind::kVarchar:
      return 2147483647;
    case TypeKind::kBigInt:
    case TypeKind::kUInteger:
      return 19;
    case TypeKind::kInteger:
    case TypeKind::kUSmallInt:
      return 10;
    case TypeKind::kSmallInt:
    case TypeKind::kUTinyInt:
      return 5;
    case TypeKind::kTinyInt:
      return 3;
    case TypeKind::kDouble:
      return 17;
    case TypeKind::kFloat:
      return 8;
    case TypeKind::kDecimal:
      return t.width;
    case TypeKind::kHugeInt:
    case TypeKind::kUHugeInt:
      return 38;
    case TypeKind::kUBigInt:
      return 20;
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampTz:
    case TypeKind::kTime:
      return 3;
    default:
      return 0;
  }
}

}  // namespace

// One query execution. Fields other than `control` are guarded by AthenaApi::mu_.
struct AthenaApi::Execution {
  std::string id;
  std::string query;
  std::string workgroup;
  std::string database;  // as given ("" = not given)
  std::string catalog;
  std::string output_location;  // s3://.../<id>.csv
  std::string csv_path;         // <data_dir>/query-results/<id>.csv
  State state = State::kQueued;
  Status failure;  // FAILED / CANCELLED reason
  int64_t submitted_micros = 0;
  int64_t started_micros = 0;
  int64_t completed_micros = 0;
  offline::QueryStats stats;
  std::vector<offline::Column> columns;
  uint64_t rows = 0;
  std::string result_table;  // "" when none or dropped
  offline::QueryControl control;
};

namespace {

// Turns a query's rows into Athena text in a results-database table (columns c0..cN VARCHAR).
class ResultSink : public offline::RowSink {
 public:
  ResultSink(offline::Connection* conn, std::string table)
      : conn_(conn), table_(std::move(table)) {}

  Status Begin(const std::vector<offline::Column>& columns) override {
    columns_ = columns;
    std::string ddl = "CREATE TABLE " + offline::QuoteIdentifier(table_) + " (";
    for (size_t i = 0; i < columns.size(); ++i)
      ddl += (i > 0 ? ", c" : "c") + std::to_string(i) + " VARCHAR";
    if (columns.empty()) ddl += "c VARCHAR";
    ddl += ")";
    RETURN_IF_ERROR(conn_->Execute(ddl));
    created_ = true;
    ASSIGN_OR_RETURN(appender_, conn_->CreateAppender("", table_));
    return Status::OK();
  }

  Status Rows(const offline::Chunk& chunk) override {
    std::vector<Datum> row(columns_.size());
    for (const auto& in : chunk.rows) {
      for (size_t c = 0; c < columns_.size(); ++c) {
        row[c] = in[c].is_null ? Datum::Null() : Datum::Text(AthenaText(in[c], columns_[c].type));
      }
      RETURN_IF_ERROR(appender_->AppendRow(row));
    }
    return Status::OK();
  }

  // Closes the table and writes it as CSV (header first, every value quoted, NULL empty) to
  // `path`, atomically.
  Status Finish(const std::string& path) {
    if (appender_ != nullptr) RETURN_IF_ERROR(appender_->Close());
    appender_.reset();
    std::string select;
    for (size_t i = 0; i < columns_.size(); ++i) {
      select += (i > 0 ? ", c" : "c") + std::to_string(i) + " AS " +
                offline::QuoteIdentifier(columns_[i].name);
    }
    if (select.empty()) return offline::Env::Posix()->WriteFile(path, "");
    const std::string tmp = path + ".tmp";
    RETURN_IF_ERROR(conn_->Execute(
        "COPY (SELECT " + select + " FROM " + offline::QuoteIdentifier(table_) + ") TO " +
        offline::QuoteLiteral(tmp) + " (FORMAT csv, HEADER true, FORCE_QUOTE *)"));
    return offline::Env::Posix()->Rename(tmp, path);
  }

  // Drops the table after a failure.
  void Discard() {
    appender_.reset();
    if (!created_) return;
    Status s = conn_->Execute("DROP TABLE IF EXISTS " + offline::QuoteIdentifier(table_));
    if (!s.ok()) spdlog::warn("athena: dropping {}: {}", table_, s.ToString());
  }

  const std::vector<offline::Column>& columns() const { return columns_; }

 private:
  offline::Connection* conn_;
  std::string table_;
  bool created_ = false;
  std::vector<offline::Column> columns_;
  std::unique_ptr<offline::Appender> appender_;
};

}  // namespace

AthenaApi::AthenaApi(offline::QueryEngine* engine, AthenaApiOptions options,
                     std::unique_ptr<ServiceModel> model)
    : engine_(engine),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      model_(std::move(model)) {}

StatusOr<std::unique_ptr<offline::Connection>> AthenaApi::ConnectResults() {
  MutexLock l(&results_mu_);
  if (results_ == nullptr) {
    offline::DatabaseOptions db_options;
    db_options.memory_limit_bytes = options_.results_memory_limit_bytes;
    db_options.threads = 1;
    db_options.temp_directory = options_.data_dir + "/tmp/athena-results";
    ASSIGN_OR_RETURN(results_, offline::Database::Open(db_options));
  }
  return results_->Connect();
}

StatusOr<std::unique_ptr<AthenaApi>> AthenaApi::Create(offline::QueryEngine* engine,
                                                       AthenaApiOptions options) {
  if (options.workers < 1) {
    return Status::InvalidArgument(
        fmt::format("athena workers must be at least 1, got {}", options.workers));
  }
  ASSIGN_OR_RETURN(auto model, ServiceModel::Parse(AthenaModelJson()));
  RETURN_IF_ERROR(offline::Env::Posix()->CreateDirs(options.data_dir + "/query-results"));
  RETURN_IF_ERROR(offline::Env::Posix()->CreateDirs(options.data_dir + "/tmp/athena-results"));
  std::unique_ptr<AthenaApi> api(new AthenaApi(engine, std::move(options), std::move(model)));
  for (int i = 0; i < api->options_.workers; ++i) {
    AthenaApi* raw = api.get();
    api->workers_.emplace_back([raw] { raw->Worker(); });
  }
  return api;
}

AthenaApi::~AthenaApi() { Stop(); }

void AthenaApi::Stop() {
  std::vector<std::shared_ptr<Execution>> running;
  {
    MutexLock l(&mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    int64_t now = clock_->NowMicros();
    for (const std::string& id : queue_) {
      auto it = executions_.find(id);
      if (it == executions_.end() || it->second->state != State::kQueued) continue;
      it->second->state = State::kCancelled;
      it->second->failure = Status::Cancelled("the server shut down before the query started");
      it->second->completed_micros = now;
    }
    queue_.clear();
    for (auto& [id, e] : executions_) {
      if (e->state == State::kRunning) running.push_back(e);
    }
  }
  cv_.notify_all();
  for (auto& e : running) e->control.Cancel();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

// ---- Workers ----

void AthenaApi::Worker() {
  std::unique_ptr<offline::Connection> conn;  // opened with this worker's first execution
  while (true) {
    std::shared_ptr<Execution> e;
    {
      MutexLock l(&mu_);
      while (!stopping_ && queue_.empty()) cv_.wait(mu_);
      if (stopping_) return;
      std::string id = queue_.front();
      queue_.pop_front();
      auto it = executions_.find(id);
      if (it == executions_.end() || it->second->state != State::kQueued) continue;
      e = it->second;
      e->state = State::kRunning;
      e->started_micros = clock_->NowMicros();
    }
    if (conn == nullptr) {
      StatusOr<std::unique_ptr<offline::Connection>> opened = ConnectResults();
      if (!opened.ok()) {
        spdlog::error("athena worker: {}", opened.status().ToString());
        MutexLock l(&mu_);
        e->completed_micros = clock_->NowMicros();
        e->failure = opened.status().WithPrefix("opening the query results database");
        e->state = State::kFailed;
        continue;
      }
      conn = std::move(opened).value();
    }
    Execute(e, conn.get());
    Evict(conn.get());
  }
}

void AthenaApi::Execute(const std::shared_ptr<Execution>& e, offline::Connection* conn) {
  offline::QueryRequest request;
  std::string table;
  std::string csv_path;
  {
    MutexLock l(&mu_);
    request.sql = e->query;
    request.database = e->database;
    request.catalog = e->catalog;
    table = fmt::format("r{}", next_table_++);
    csv_path = e->csv_path;
  }
  ResultSink sink(conn, table);
  StatusOr<offline::QueryStats> stats = engine_->Run(request, &sink, &e->control);
  Status status = stats.status();
  if (status.ok()) status = sink.Finish(csv_path).WithPrefix("writing the query results");
  if (!status.ok()) sink.Discard();
  MutexLock l(&mu_);
  e->completed_micros = clock_->NowMicros();
  if (stats.ok()) e->stats = *stats;
  if (status.ok()) {
    e->state = State::kSucceeded;
    e->columns = sink.columns();
    e->rows = stats->rows;
    e->result_table = table;
    retained_.push_back(e->id);
    return;
  }
  e->failure = status;
  e->state = status.code() == StatusCode::kCancelled ? State::kCancelled : State::kFailed;
}

void AthenaApi::Evict(offline::Connection* conn) {
  std::vector<std::string> drop;
  {
    MutexLock l(&mu_);
    while (retained_.size() > options_.max_retained_results) {
      auto it = executions_.find(retained_.front());
      if (it != executions_.end() && !it->second->result_table.empty()) {
        drop.push_back(it->second->result_table);
        it->second->result_table.clear();
      }
      retained_.pop_front();
    }
    while (order_.size() > options_.max_executions) {
      auto it = executions_.find(order_.front());
      if (it != executions_.end() && !Finished(it->second->state))
        break;  // forget finished ones only
      if (it != executions_.end()) {
        if (!it->second->result_table.empty()) drop.push_back(it->second->result_table);
        executions_.erase(it);
      }
      order_.pop_front();
    }
  }
  for (const std::string& t : drop) {
    Status s = conn->Execute("DROP TABLE IF EXISTS " + offline::QuoteIdentifier(t));
    if (!s.ok()) spdlog::warn("athena: dropping {}: {}", t, s.ToString());
  }
}

// ---- Requests ----

void AthenaApi::Handle(const HttpRequest& req, HttpResponse* resp) {
  resp->content_type = "application/x-amz-json-1.1";
  const std::string* target = req.Header("x-amz-target");
  if (target == nullptr || target->rfind(kTargetPrefix, 0) != 0) {
    WriteError(400, "UnknownOperationException",
               "X-Amz-Target '" + (target != nullptr ? *target : std::string()) +
                   "' does not name an Athena operation",
               resp);
    return;
  }
  std::string op = target->substr(kTargetPrefix.size());
  static constexpr std::string_view kServed[] = {"StartQueryExecution", "GetQueryExecution",
                                                 "GetQueryResults",     "StopQueryExecution",
                                                 "ListQueryExecutions", "BatchGetQueryExecution"};
  if (std::find(std::begin(kServed), std::end(kServed), op) == std::end(kServed)) {
    WriteError(400, "UnknownOperationException",
               "Larder does not serve Athena operation '" + op +
                   "'; it serves StartQueryExecution, GetQueryExecution, GetQueryResults, "
                   "StopQueryExecution, ListQueryExecutions and BatchGetQueryExecution",
               resp);
    return;
  }
  resp->operation = op;
  rapidjson::Document doc;
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc.SetObject();
  } else {
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
        req.body.data(), req.body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      WriteError(400, "SerializationException",
                 doc.HasParseError() ? std::string("the request body is not valid JSON: ") +
                                           rapidjson::GetParseError_En(doc.GetParseError())
                                     : std::string("the request body must be a JSON object"),
                 resp);
      return;
    }
  }
  Status valid = model_->ValidateInput(op, doc);
  if (!valid.ok()) {
    WriteStatus(Protocol::kAthena, valid, resp);
    return;
  }
  StatusOr<std::string> body = Dispatch(op, doc);
  if (!body.ok()) {
    WriteStatus(Protocol::kAthena, body.status(), resp);
    return;
  }
  resp->status = 200;
  resp->body = std::move(body).value();
}

StatusOr<std::string> AthenaApi::Dispatch(const std::string& op, const rapidjson::Value& in) {
  if (op == "StartQueryExecution") return StartQueryExecution(in);
  if (op == "GetQueryExecution") return GetQueryExecution(in);
  if (op == "GetQueryResults") return GetQueryResults(in);
  if (op == "StopQueryExecution") return StopQueryExecution(in);
  if (op == "ListQueryExecutions") return ListQueryExecutions(in);
  return BatchGetQueryExecution(in);
}

std::shared_ptr<AthenaApi::Execution> AthenaApi::Find(const std::string& id) {
  MutexLock l(&mu_);
  auto it = executions_.find(id);
  return it == executions_.end() ? nullptr : it->second;
}

StatusOr<std::string> AthenaApi::StartQueryExecution(const rapidjson::Value& in) {
  auto e = std::make_shared<Execution>();
  e->query = StringMember(in, "QueryString");
  e->workgroup = StringMember(in, "WorkGroup");
  if (e->workgroup.empty()) e->workgroup = "primary";
  if (const rapidjson::Value* ctx = Member(in, "QueryExecutionContext")) {
    e->database = StringMember(*ctx, "Database");
    e->catalog = StringMember(*ctx, "Catalog");
  }
  std::string output = options_.default_output_location;
  if (const rapidjson::Value* rc = Member(in, "ResultConfiguration")) {
    std::string given = StringMember(*rc, "OutputLocation");
    if (!given.empty()) output = given;
  }
  if (output.rfind("s3://", 0) != 0 || output.size() <= 5) {
    return Status::InvalidArgument(fmt::format(
        "ResultConfiguration.OutputLocation '{}' is not an S3 location such as s3://bucket/prefix/",
        output));
  }
  if (output.back() != '/') output += '/';
  const std::string token = StringMember(in, "ClientRequestToken");

  MutexLock l(&mu_);
  if (stopping_)
    return Status::Unavailable("the server is shutting down; no new queries are accepted");
  if (!token.empty()) {
    auto it = tokens_.find(token);
    if (it != tokens_.end()) return "{\"QueryExecutionId\":" + JsonString(it->second) + "}";
  }
  if (queue_.size() >= options_.max_queued) {
    return Status::ResourceExhausted(fmt::format(
        "too many queued queries ({}); wait for some to finish and retry", queue_.size()));
  }
  static std::mt19937_64 rng(std::random_device{}());  // guarded by mu_
  do {
    e->id = NewQueryId(&rng);
  } while (executions_.count(e->id) != 0);
  e->output_location = output + e->id + ".csv";
  e->csv_path = options_.data_dir + "/query-results/" + e->id + ".csv";
  e->submitted_micros = clock_->NowMicros();
  executions_[e->id] = e;
  order_.push_back(e->id);
  queue_.push_back(e->id);
  if (!token.empty()) tokens_[token] = e->id;
  cv_.notify_all();
  return "{\"QueryExecutionId\":" + JsonString(e->id) + "}";
}

namespace {

void WriteExecution(JsonWriter& w, const AthenaApi::Execution& e);

}  // namespace

StatusOr<std::string> AthenaApi::GetQueryExecution(const rapidjson::Value& in) {
  std::string id = StringMember(in, "QueryExecutionId");
  auto e = Find(id);
  if (e == nullptr) return NotFound(id);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "QueryExecution");
  {
    MutexLock l(&mu_);
    WriteExecution(w, *e);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<std::string> AthenaApi::BatchGetQueryExecution(const rapidjson::Value& in) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  std::vector<std::string> missing;
  Key(w, "QueryExecutions");
  w.StartArray();
  if (const rapidjson::Value* ids = Member(in, "QueryExecutionIds");
      ids != nullptr && ids->IsArray()) {
    for (const auto& v : ids->GetArray()) {
      std::string id = v.IsString() ? v.GetString() : "";
      auto e = Find(id);
      if (e == nullptr) {
        missing.push_back(id);
        continue;
      }
      MutexLock l(&mu_);
      WriteExecution(w, *e);
    }
  }
  w.EndArray();
  Key(w, "UnprocessedQueryExecutionIds");
  w.StartArray();
  for (const std::string& id : missing) {
    w.StartObject();
    Key(w, "QueryExecutionId");
    Str(w, id);
    Key(w, "ErrorCode");
    Str(w, "INVALID_INPUT");
    Key(w, "ErrorMessage");
    Str(w, NotFound(id).message());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<std::string> AthenaApi::StopQueryExecution(const rapidjson::Value& in) {
  std::string id = StringMember(in, "QueryExecutionId");
  auto e = Find(id);
  if (e == nullptr) return NotFound(id);
  {
    MutexLock l(&mu_);
    if (e->state == State::kQueued) {
      e->state = State::kCancelled;
      e->failure = Status::Cancelled("Query was cancelled by a StopQueryExecution request");
      e->completed_micros = clock_->NowMicros();
      return std::string("{}");
    }
    if (e->state != State::kRunning) return std::string("{}");
  }
  e->control.Cancel();
  return std::string("{}");
}

StatusOr<std::string> AthenaApi::ListQueryExecutions(const rapidjson::Value& in) {
  std::string workgroup = StringMember(in, "WorkGroup");
  if (workgroup.empty()) workgroup = "primary";
  int max = kDefaultMaxListResults;
  if (const rapidjson::Value* m = Member(in, "MaxResults");
      m != nullptr && m->IsInt() && m->GetInt() > 0) {
    max = std::min(m->GetInt(), kDefaultMaxListResults);
  }
  size_t start = 0;
  std::string token = StringMember(in, "NextToken");
  if (!token.empty()) {
    auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), start);
    if (ec != std::errc() || p != token.data() + token.size()) {
      return Status::InvalidArgument(
          fmt::format("NextToken '{}' is not a token ListQueryExecutions returned", token));
    }
  }
  std::vector<std::string> ids;
  {
    MutexLock l(&mu_);
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      auto e = executions_.find(*it);
      if (e != executions_.end() && e->second->workgroup == workgroup) ids.push_back(*it);
    }
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  size_t end = std::min(ids.size(), start + static_cast<size_t>(max));
  if (start < end) {
    Key(w, "QueryExecutionIds");
    w.StartArray();
    for (size_t i = start; i < end; ++i) Str(w, ids[i]);
    w.EndArray();
  }
  if (end < ids.size()) {
    Key(w, "NextToken");
    Str(w, std::to_string(end));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<std::string> AthenaApi::GetQueryResults(const rapidjson::Value& in) {
  std::string id = StringMember(in, "QueryExecutionId");
  auto e = Find(id);
  if (e == nullptr) return NotFound(id);
  std::string table;
  std::vector<offline::Column> columns;
  uint64_t total = 0;
  {
    MutexLock l(&mu_);
    if (e->state == State::kQueued || e->state == State::kRunning) {
      return Status::InvalidArgument(
          fmt::format("Query has not yet finished. Current state: {}", StateName(e->state)));
    }
    if (e->state != State::kSucceeded) {
      return Status::InvalidArgument(
          fmt::format("Query did not finish successfully. Final query state: {} ({})",
                      StateName(e->state), e->failure.message()));
    }
    if (e->result_table.empty()) {
      return Status::InvalidArgument(fmt::format(
          "the rows of query {} are no longer kept for GetQueryResults; read them from {} ({})", id,
          e->output_location, e->csv_path));
    }
    table = e->result_table;
    columns = e->columns;
    total = e->rows;
  }
  int max = kDefaultMaxResults;
  if (const rapidjson::Value* m = Member(in, "MaxResults"); m != nullptr && m->IsInt())
    max = m->GetInt();
  // The token is "<first data row>:<id>"; the first page starts with the header row.
  uint64_t offset = 0;
  std::string token = StringMember(in, "NextToken");
  if (!token.empty()) {
    size_t colon = token.find(':');
    auto [p, ec] = std::from_chars(token.data(),
                                   token.data() + (colon == std::string::npos ? 0 : colon), offset);
    if (colon == std::string::npos || ec != std::errc() || token.substr(colon + 1) != id ||
        offset > total) {
      return Status::InvalidArgument(fmt::format(
          "NextToken '{}' is not a token GetQueryResults returned for query {}", token, id));
    }
  }
  bool header = token.empty();
  uint64_t limit = static_cast<uint64_t>(max) - (header ? 1 : 0);

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "UpdateCount");
  w.Int64(0);
  Key(w, "ResultSet");
  w.StartObject();
  Key(w, "Rows");
  w.StartArray();
  if (header) {
    w.StartObject();
    Key(w, "Data");
    w.StartArray();
    for (const auto& c : columns) {
      w.StartObject();
      Key(w, "VarCharValue");
      Str(w, c.name);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  uint64_t returned = 0;
  if (limit > 0 && offset < total) {
    ASSIGN_OR_RETURN(auto conn, ConnectResults());
    ASSIGN_OR_RETURN(auto result,
                     conn->Query(fmt::format("SELECT * FROM {} LIMIT {} OFFSET {}",
                                             offline::QuoteIdentifier(table), limit, offset)));
    offline::Chunk chunk;
    while (true) {
      ASSIGN_OR_RETURN(bool more, result->Next(&chunk));
      if (!more) break;
      for (const auto& row : chunk.rows) {
        w.StartObject();
        Key(w, "Data");
        w.StartArray();
        for (size_t c = 0; c < columns.size() && c < row.size(); ++c) {
          w.StartObject();
          if (!row[c].is_null) {
            Key(w, "VarCharValue");
            Str(w, row[c].text);
          }
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        ++returned;
      }
    }
  }
  w.EndArray();
  Key(w, "ResultSetMetadata");
  w.StartObject();
  Key(w, "ColumnInfo");
  w.StartArray();
  for (const auto& c : columns) {
    w.StartObject();
    Key(w, "CatalogName");
    Str(w, "hive");
    Key(w, "SchemaName");
    Str(w, "");
    Key(w, "TableName");
    Str(w, "");
    Key(w, "Name");
    Str(w, c.name);
    Key(w, "Label");
    Str(w, c.name);
    Key(w, "Type");
    Str(w, AthenaTypeName(c.type));
    Key(w, "Precision");
    w.Int(Precision(c.type));
    Key(w, "Scale");
    w.Int(c.type.kind == TypeKind::kDecimal ? c.type.scale : 0);
    Key(w, "Nullable");
    Str(w, "UNKNOWN");
    Key(w, "CaseSensitive");
    w.Bool(c.type.kind == TypeKind::kVarchar);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();  // ResultSet
  if (offset + returned < total) {
    Key(w, "NextToken");
    Str(w, fmt::format("{}:{}", offset + returned, id));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

namespace {

void WriteExecution(JsonWriter& w, const AthenaApi::Execution& e) {
  auto seconds = [](int64_t micros) { return static_cast<double>(micros) / 1e6; };
  w.StartObject();
  Key(w, "QueryExecutionId");
  Str(w, e.id);
  Key(w, "Query");
  Str(w, e.query);
  Key(w, "StatementType");
  Str(w, "DML");
  Key(w, "ResultConfiguration");
  w.StartObject();
  Key(w, "OutputLocation");
  Str(w, e.output_location);
  w.EndObject();
  Key(w, "ResultReuseConfiguration");
  w.StartObject();
  Key(w, "ResultReuseByAgeConfiguration");
  w.StartObject();
  Key(w, "Enabled");
  w.Bool(false);
  w.EndObject();
  w.EndObject();
  if (!e.database.empty() || !e.catalog.empty()) {
    Key(w, "QueryExecutionContext");
    w.StartObject();
    if (!e.database.empty()) {
      Key(w, "Database");
      Str(w, e.database);
    }
    if (!e.catalog.empty()) {
      Key(w, "Catalog");
      Str(w, e.catalog);
    }
    w.EndObject();
  }
  Key(w, "Status");
  w.StartObject();
  Key(w, "State");
  Str(w, StateName(e.state));
  if (e.state == State::kFailed || e.state == State::kCancelled) {
    Key(w, "StateChangeReason");
    Str(w, e.failure.message());
  }
  Key(w, "SubmissionDateTime");
  w.Double(seconds(e.submitted_micros));
  if (Finished(e.state)) {
    Key(w, "CompletionDateTime");
    w.Double(seconds(e.completed_micros));
  }
  if (e.state == State::kFailed) {
    bool system = e.failure.code() == StatusCode::kInternal ||
                  e.failure.code() == StatusCode::kIOError ||
                  e.failure.code() == StatusCode::kUnavailable;
    Key(w, "AthenaError");
    w.StartObject();
    Key(w, "ErrorCategory");
    w.Int(system ? 1 : 2);  // 1 SYSTEM, 2 USER
    Key(w, "Retryable");
    w.Bool(system || e.failure.code() == StatusCode::kDeadlineExceeded);
    Key(w, "ErrorMessage");
    Str(w, e.failure.message());
    w.EndObject();
  }
  w.EndObject();
  Key(w, "Statistics");
  w.StartObject();
  const offline::QueryStats& s = e.stats;
  int64_t end = Finished(e.state) ? e.completed_micros : 0;
  int64_t queue = e.started_micros > 0 ? e.started_micros - e.submitted_micros : 0;
  Key(w, "EngineExecutionTimeInMillis");
  w.Int64((s.planning_micros + s.execution_micros) / 1000);
  Key(w, "DataScannedInBytes");
  w.Int64(static_cast<int64_t>(s.data_scanned_bytes));
  if (end > 0) {
    Key(w, "TotalExecutionTimeInMillis");
    w.Int64((end - e.submitted_micros) / 1000);
    Key(w, "ServiceProcessingTimeInMillis");
    w.Int64(std::max<int64_t>(0, end - e.started_micros - s.queue_micros - s.sync_micros -
                                     s.planning_micros - s.execution_micros) /
            1000);
  }
  Key(w, "QueryQueueTimeInMillis");
  w.Int64((queue + s.queue_micros) / 1000);
  Key(w, "ServicePreProcessingTimeInMillis");
  w.Int64(s.sync_micros / 1000);
  Key(w, "QueryPlanningTimeInMillis");
  w.Int64(s.planning_micros / 1000);
  Key(w, "ResultReuseInformation");
  w.StartObject();
  Key(w, "ReusedPreviousResult");
  w.Bool(false);
  w.EndObject();
  w.EndObject();
  Key(w, "WorkGroup");
  Str(w, e.workgroup);
  Key(w, "EngineVersion");
  w.StartObject();
  Key(w, "SelectedEngineVersion");
  Str(w, "AUTO");
  Key(w, "EffectiveEngineVersion");
  Str(w, "Athena engine version 3");
  w.EndObject();
  Key(w, "SubstatementType");
  Str(w, "SELECT");
  w.EndObject();
}

}  // namespace

}  // namespace larder::server
