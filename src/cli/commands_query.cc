// `larder query "SQL"`: runs SQL on the offline store through the Athena API
// (StartQueryExecution, polling GetQueryExecution, then GetQueryResults page by page) and prints
// the rows as a table, CSV or JSON, or writes them as Parquet (converted with DuckDB).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "common/status_macros.h"
#include "common/thread_annotations.h"
#include "offline/duckdb_engine.h"

namespace larder::cli {
namespace {

constexpr int kPageSize = 1000;  // GetQueryResults' MaxResults maximum
constexpr int kFirstPollMs = 20;
constexpr int kMaxPollMs = 500;

struct ResultColumn {
  std::string name;
  std::string type;  // Athena's: varchar, bigint, double, boolean, timestamp, decimal...
  int precision = 0;
  int scale = 0;
};

// The DuckDB type a Parquet column gets for an Athena column type.
std::string DuckDbType(const ResultColumn& c) {
  const std::string& t = c.type;
  if (t == "bigint") return "BIGINT";
  if (t == "integer" || t == "int") return "INTEGER";
  if (t == "smallint") return "SMALLINT";
  if (t == "tinyint") return "TINYINT";
  if (t == "double") return "DOUBLE";
  if (t == "float" || t == "real") return "FLOAT";
  if (t == "boolean") return "BOOLEAN";
  if (t == "date") return "DATE";
  if (t == "timestamp") return "TIMESTAMP";
  if (t == "decimal" && c.precision > 0 && c.precision <= 38) {
    return fmt::format("DECIMAL({},{})", c.precision, c.scale);
  }
  return "VARCHAR";  // varchar, char, arrays, rows, maps: kept as Athena's text
}

class QueryCommand final : public Command {
 public:
  explicit QueryCommand(CLI::App* app) {
    sub_ = app->add_subcommand("query", "Run SQL on the offline store (Athena API)");
    sub_->add_option("sql", sql_,
                     "The query, e.g. 'SELECT count(*) FROM \"customer-features_1700000000\"'")
        ->required();
    AddFormatFlag(sub_, &format_, {"table", "csv", "json", "parquet"});
    sub_->add_option("--out", out_,
                     "Write the rows to this file instead of stdout (required for parquet)");
    sub_->add_option("--database", database_, "QueryExecutionContext.Database")
        ->capture_default_str();
    sub_->add_option("--catalog", catalog_, "QueryExecutionContext.Catalog")->capture_default_str();
    sub_->add_option("--output-location", output_location_,
                     "ResultConfiguration.OutputLocation (s3://bucket/prefix/)");
    sub_->add_option("--max-rows", max_rows_, "Fetch at most this many rows (0 = all)");
    sub_->add_option("--query-timeout", query_timeout_, "Seconds to wait for the query to finish")
        ->capture_default_str();
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "A feature group's table is named in DescribeFeatureGroup's DataCatalogConfig (`larder "
        "describe NAME` shows it).\nExamples:\n"
        "  larder query 'SELECT customer_id, loyalty_score FROM \"customer-features_1700000000\" "
        "LIMIT 5'\n"
        "  larder query 'SELECT * FROM \"customer-features_1700000000\"' --format parquet --out "
        "training.parquet");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("query", s);
  }

 private:
  Status RunOrError() {
    if (format_ == "parquet" && out_.empty()) {
      return Status::InvalidArgument("--format parquet needs --out FILE");
    }
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    ASSIGN_OR_RETURN(std::string id, Start(&client));
    RETURN_IF_ERROR(Wait(&client, id));
    std::vector<ResultColumn> columns;
    Table rows;
    RETURN_IF_ERROR(Fetch(&client, id, &columns, &rows));
    return Write(columns, rows);
  }

  StatusOr<std::string> Start(AwsClient* client) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("QueryString");
    WriteString(w, sql_);
    w.Key("QueryExecutionContext");
    w.StartObject();
    w.Key("Database");
    WriteString(w, database_);
    w.Key("Catalog");
    WriteString(w, catalog_);
    w.EndObject();
    if (!output_location_.empty()) {
      w.Key("ResultConfiguration");
      w.StartObject();
      w.Key("OutputLocation");
      WriteString(w, output_location_);
      w.EndObject();
    }
    w.EndObject();
    ASSIGN_OR_RETURN(rapidjson::Document d,
                     client->Athena("StartQueryExecution", {sb.GetString(), sb.GetSize()}));
    std::string id(GetString(d, "QueryExecutionId"));
    if (id.empty()) return Status::Internal("StartQueryExecution returned no QueryExecutionId");
    return id;
  }

  Status Wait(AwsClient* client, const std::string& id) {
    const auto start = std::chrono::steady_clock::now();
    Mutex mu;
    std::string state = "QUEUED";
    int tick = 0;
    ProgressLine spinner(stderr, IsTerminal(stderr), [&](int) {
      MutexLock l(&mu);
      return SpinnerText(
          tick++, state,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    });
    const std::string body = fmt::format("{{\"QueryExecutionId\":\"{}\"}}", id);
    int poll_ms = kFirstPollMs;
    while (true) {
      ASSIGN_OR_RETURN(rapidjson::Document d, client->Athena("GetQueryExecution", body));
      const rapidjson::Value* qe = GetMember(d, "QueryExecution");
      const rapidjson::Value* st = qe == nullptr ? nullptr : GetMember(*qe, "Status");
      if (st == nullptr) return Status::Internal("GetQueryExecution returned no Status");
      const std::string now(GetString(*st, "State"));
      {
        MutexLock l(&mu);
        state = now;
      }
      if (now == "SUCCEEDED") return Status::OK();
      if (now == "FAILED" || now == "CANCELLED") {
        return Status::InvalidArgument(
            fmt::format("query {} {}: {}", id, now, GetString(*st, "StateChangeReason")));
      }
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed > query_timeout_) {
        return Status::DeadlineExceeded(fmt::format(
            "query {} is still {} after {} s (--query-timeout)", id, now, query_timeout_));
      }
      // Polling the query's state, as Athena clients do.
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
      poll_ms = std::min(poll_ms * 2, kMaxPollMs);
    }
  }

  Status Fetch(AwsClient* client, const std::string& id, std::vector<ResultColumn>* columns,
               Table* rows) {
    std::string token;
    bool first_page = true;
    do {
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      w.StartObject();
      w.Key("QueryExecutionId");
      WriteString(w, id);
      w.Key("MaxResults");
      w.Int(kPageSize);
      if (!token.empty()) {
        w.Key("NextToken");
        WriteString(w, token);
      }
      w.EndObject();
      ASSIGN_OR_RETURN(rapidjson::Document d,
                       client->Athena("GetQueryResults", {sb.GetString(), sb.GetSize()}));
      const rapidjson::Value* rs = GetMember(d, "ResultSet");
      if (rs == nullptr) return Status::Internal("GetQueryResults returned no ResultSet");
      if (first_page) {
        const rapidjson::Value* meta = GetMember(*rs, "ResultSetMetadata");
        const rapidjson::Value* info = meta == nullptr ? nullptr : GetMember(*meta, "ColumnInfo");
        if (info != nullptr && info->IsArray()) {
          for (const rapidjson::Value& c : info->GetArray()) {
            columns->push_back({std::string(GetString(c, "Name")),
                                std::string(GetString(c, "Type")),
                                static_cast<int>(GetNumber(c, "Precision")),
                                static_cast<int>(GetNumber(c, "Scale"))});
            rows->header.push_back(columns->back().name);
          }
        }
      }
      const rapidjson::Value* list = GetMember(*rs, "Rows");
      if (list != nullptr && list->IsArray()) {
        bool skip_header = first_page && !columns->empty();
        for (const rapidjson::Value& r : list->GetArray()) {
          if (skip_header) {  // Athena's first row of a SELECT repeats the column names
            skip_header = false;
            continue;
          }
          if (max_rows_ > 0 && rows->rows.size() >= static_cast<size_t>(max_rows_)) break;
          std::vector<std::optional<std::string>> row;
          const rapidjson::Value* data = GetMember(r, "Data");
          if (data != nullptr && data->IsArray()) {
            for (const rapidjson::Value& cell : data->GetArray()) {
              const rapidjson::Value* v = GetMember(cell, "VarCharValue");
              if (v != nullptr && v->IsString()) {
                row.emplace_back(std::string(v->GetString(), v->GetStringLength()));
              } else {
                row.emplace_back(std::nullopt);
              }
            }
          }
          row.resize(rows->header.size());
          rows->rows.push_back(std::move(row));
        }
      }
      first_page = false;
      token = std::string(GetString(d, "NextToken"));
    } while (!token.empty() &&
             (max_rows_ <= 0 || rows->rows.size() < static_cast<size_t>(max_rows_)));
    return Status::OK();
  }

  static void JsonCell(JsonWriter& w, const ResultColumn& c, const std::optional<std::string>& v) {
    if (!v.has_value()) {
      w.Null();
      return;
    }
    const std::string& t = c.type;
    if (t == "boolean" && (*v == "true" || *v == "false")) {
      w.Bool(*v == "true");
    } else if (t == "bigint" || t == "integer" || t == "int" || t == "smallint" || t == "tinyint" ||
               t == "double" || t == "float" || t == "real" || t == "decimal") {
      // Athena's number text is valid JSON except for NaN/Infinity, which stay strings.
      rapidjson::Document probe;
      probe.Parse(v->c_str(), v->size());
      if (!probe.HasParseError() && probe.IsNumber()) {
        w.RawValue(v->data(), v->size(), rapidjson::kNumberType);
      } else {
        WriteString(w, *v);
      }
    } else {
      WriteString(w, *v);
    }
  }

  Status Write(const std::vector<ResultColumn>& columns, const Table& rows) {
    if (format_ == "parquet") return WriteParquet(columns, rows);
    std::FILE* out = stdout;
    if (!out_.empty()) {
      out = std::fopen(out_.c_str(), "w");
      if (out == nullptr) {
        return Status::IOError(
            fmt::format("cannot create --out '{}': {}", out_, std::strerror(errno)));
      }
    }
    if (format_ == "json") {
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      w.StartArray();
      for (const auto& r : rows.rows) {
        w.StartObject();
        for (size_t c = 0; c < columns.size(); ++c) {
          WriteString(w, columns[c].name);
          JsonCell(w, columns[c], r[c]);
        }
        w.EndObject();
      }
      w.EndArray();
      rapidjson::Document d;
      d.Parse(sb.GetString(), sb.GetSize());
      PrintJson(out, d);
    } else if (format_ == "csv") {
      PrintCsv(out, rows);
    } else {
      PrintTable(out, rows, out == stdout ? TerminalWidth(stdout) : 0);
      fmt::print(stderr, "({} row{})\n", rows.rows.size(), rows.rows.size() == 1 ? "" : "s");
    }
    if (out != stdout && std::fclose(out) != 0) {
      return Status::IOError(
          fmt::format("cannot write --out '{}': {}", out_, std::strerror(errno)));
    }
    return Status::OK();
  }

  // The rows go into an in-memory DuckDB table as text, then COPY casts each column to its
  // type and writes Parquet.
  Status WriteParquet(const std::vector<ResultColumn>& columns, const Table& rows) {
    if (columns.empty()) return Status::InvalidArgument("the query returned no columns to write");
    ASSIGN_OR_RETURN(auto db, offline::Database::Open({}));
    ASSIGN_OR_RETURN(auto conn, db->Connect());
    std::string create = "CREATE TABLE r (";
    std::string select = "SELECT ";
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c > 0) {
        create += ", ";
        select += ", ";
      }
      create += fmt::format("c{} VARCHAR", c);
      select += fmt::format("CAST(c{} AS {}) AS {}", c, DuckDbType(columns[c]),
                            offline::QuoteIdentifier(columns[c].name));
    }
    RETURN_IF_ERROR(conn->Execute(create + ")"));
    {
      ASSIGN_OR_RETURN(auto appender, conn->CreateAppender("", "r"));
      std::vector<offline::Datum> row(columns.size());
      for (const auto& r : rows.rows) {
        for (size_t c = 0; c < columns.size(); ++c) {
          row[c] = r[c].has_value() ? offline::Datum::Text(*r[c]) : offline::Datum::Null();
        }
        RETURN_IF_ERROR(appender->AppendRow(row));
      }
      RETURN_IF_ERROR(appender->Close());
    }
    Status s = conn->Execute(fmt::format("COPY ({} FROM r) TO {} (FORMAT parquet)", select,
                                         offline::QuoteLiteral(out_)));
    if (!s.ok()) return s.WithPrefix(fmt::format("writing --out '{}'", out_));
    fmt::print(stderr, "wrote {} row{} to {}\n", rows.rows.size(), rows.rows.size() == 1 ? "" : "s",
               out_);
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string format_;
  std::string sql_;
  std::string out_;
  std::string database_ = "sagemaker_featurestore";
  std::string catalog_ = "AwsDataCatalog";
  std::string output_location_;
  int64_t max_rows_ = 0;
  double query_timeout_ = 600;
};

}  // namespace

std::unique_ptr<Command> NewQueryCommand(CLI::App* app) {
  return std::make_unique<QueryCommand>(app);
}

}  // namespace larder::cli
