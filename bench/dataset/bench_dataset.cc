// The point-in-time dataset benchmark's driver (bench/dataset/run.sh runs it beside pandas).
//
//   larder_bench_dataset generate --dir D [--entities N] [--rows M] [--ids K] [--days N]
//       One feature group "customer-features" (customer_id String, event_time Fractional, 8
//       features) with M offline rows over K identifiers, written as Parquet in the offline
//       layout under D/data (hourly partitions); 0.5% of the rows are delete markers and 1%
//       re-write an existing (identifier, event time). A base table of N entity rows
//       (customer_id, event_time TIMESTAMPTZ, label) in D/base.parquet, and both as CSV
//       (D/base.csv, D/features.csv) for the pandas peer.
//   larder_bench_dataset run --dir D --engine larder|duckdb [--threads T] [--memory-mb M]
//       larder: DatasetBuilder, full semantics (dedup, delete handling, as-of LEFT join);
//       duckdb: the plain DuckDB ASOF LEFT JOIN over the same files, without dedup or deletes.
//       Both write Parquet to D/out-<engine>.parquet with the same engine settings, then print
//       one line: "engine=<e> seconds=<wall> rows=<n> peak_rss_mb=<getrusage maxrss>".
//       With --explain 1 (larder only) it prints the generated SQL instead of running it.
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "catalog/feature_group.h"
#include "common/status_macros.h"
#include "offline/dataset_builder.h"
#include "offline/duckdb_engine.h"
#include "offline/offline_layout.h"

namespace larder::bench {
namespace {

using offline::QuoteLiteral;

constexpr int64_t kT0 = 1'700'000'000;  // seconds

catalog::FeatureGroup Group() {
  using catalog::FeatureType;
  auto f = [](std::string name, FeatureType t) {
    catalog::FeatureDefinition d;
    d.name = std::move(name);
    d.type = t;
    return d;
  };
  catalog::FeatureGroup g;
  g.id = 1;
  g.name = "customer-features";
  g.record_identifier_name = "customer_id";
  g.event_time_feature_name = "event_time";
  g.features = {f("customer_id", FeatureType::kString), f("event_time", FeatureType::kFractional),
                f("total_purchases", FeatureType::kFractional), f("avg_order_value", FeatureType::kFractional),
                f("days_since_last_purchase", FeatureType::kIntegral), f("total_orders", FeatureType::kIntegral),
                f("return_rate", FeatureType::kFractional), f("preferred_category", FeatureType::kString),
                f("account_age_days", FeatureType::kIntegral), f("loyalty_score", FeatureType::kFractional)};
  g.offline_enabled = true;
  g.creation_time = 1'690'000'000;
  g.BuildIndex();
  return g;
}

int64_t Flag(const std::map<std::string, std::string>& flags, const std::string& name, int64_t dflt) {
  auto it = flags.find(name);
  return it == flags.end() ? dflt : std::atoll(it->second.c_str());
}

double PeakRssMb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

StatusOr<std::unique_ptr<offline::Database>> OpenDb(int threads, int64_t memory_mb, const std::string& tmp) {
  offline::DatabaseOptions o;
  o.threads = threads;
  o.memory_limit_bytes = memory_mb << 20;
  o.temp_directory = tmp;
  o.init_sql = {"SET preserve_insertion_order = false"};
  return offline::Database::Open(o);
}

Status Generate(const std::map<std::string, std::string>& flags) {
  const std::string dir = flags.at("dir");
  const int64_t entities = Flag(flags, "entities", 1'000'000);
  const int64_t rows = Flag(flags, "rows", 10'000'000);
  const int64_t ids = Flag(flags, "ids", 1'000'000);
  const int64_t span = Flag(flags, "days", 30) * 86'400;
  catalog::FeatureGroup g = Group();
  offline::OfflineLayout layout(dir, "123456789012", "us-east-1");
  ASSIGN_OR_RETURN(std::string root, offline::OfflineLayout::GroupRoot(g));
  const std::string data = layout.DataDir(root);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(data);
  ASSIGN_OR_RETURN(auto db, OpenDb(0, 2048, dir + "/tmp"));
  ASSIGN_OR_RETURN(auto conn, db->Connect());
  // Row i: identifier hash(i) % ids; event time uniform over the span; every 200th row a
  // delete marker (features null); every 100th row re-writes the previous row's (id, event time)
  // with a later api_invocation_time. write_time trails api_invocation_time by up to 15 minutes.
  std::string rows_sql = fmt::format(
      "SELECT 'C' || lpad(CAST(k % {ids} AS VARCHAR), 8, '0') AS customer_id, "
      "CAST({t0} + (h % {span}) AS DOUBLE) AS event_time, del, i, h FROM ("
      "SELECT i, CASE WHEN i % 100 = 1 THEN i - 1 ELSE i END AS j, hash(CASE WHEN i % 100 = 1 THEN i - 1 ELSE i END) AS h, "
      "hash(CASE WHEN i % 100 = 1 THEN i - 1 ELSE i END * 31 + 7) AS k, i % 200 = 3 AS del FROM range({rows}) t(i))",
      fmt::arg("ids", ids), fmt::arg("t0", kT0), fmt::arg("span", span), fmt::arg("rows", rows));
  std::string features = fmt::format(
      "SELECT customer_id, event_time, "
      "CASE WHEN del THEN NULL ELSE (h % 500000) / 100.0 END AS total_purchases, "
      "CASE WHEN del THEN NULL ELSE (h % 20000) / 100.0 END AS avg_order_value, "
      "CASE WHEN del THEN NULL ELSE CAST(h % 365 AS BIGINT) END AS days_since_last_purchase, "
      "CASE WHEN del THEN NULL ELSE CAST((h >> 8) % 100 AS BIGINT) END AS total_orders, "
      "CASE WHEN del THEN NULL ELSE ((h >> 16) % 300) / 1000.0 END AS return_rate, "
      "CASE WHEN del THEN NULL ELSE ['electronics', 'clothing', 'books', 'home', 'sports'][CAST(1 + (h >> 24) % 5 AS BIGINT)] END AS preferred_category, "
      "CASE WHEN del THEN NULL ELSE CAST(30 + (h >> 32) % 2000 AS BIGINT) END AS account_age_days, "
      "CASE WHEN del THEN NULL ELSE ((h >> 40) % 1000) / 1000.0 END AS loyalty_score, "
      "to_timestamp(event_time + 5 + i % 7 + (i % 100 = 1)::INT * 3) AS api_invocation_time, "
      "to_timestamp(event_time + 65 + (h >> 20) % 900) AS write_time, del AS is_deleted, "
      "strftime(to_timestamp(event_time), '%Y') AS year, strftime(to_timestamp(event_time), '%m') AS month, "
      "strftime(to_timestamp(event_time), '%d') AS day, strftime(to_timestamp(event_time), '%H') AS hour "
      "FROM ({})",
      rows_sql);
  // One file per hourly partition, as the flusher's compaction leaves them (not one per thread
  // and open-file rotation).
  RETURN_IF_ERROR(conn->Execute("SET partitioned_write_max_open_files = 100000"));
  RETURN_IF_ERROR(conn->Execute("SET threads = 1"));
  RETURN_IF_ERROR(conn->Execute(fmt::format(
      "COPY ({}) TO {} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year, month, day, hour), "
      "OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'part_{{i}}')",
      features, QuoteLiteral(data))));
  RETURN_IF_ERROR(conn->Execute("RESET threads"));
  RETURN_IF_ERROR(conn->Execute(fmt::format(
      "COPY (SELECT * FROM read_parquet({}, hive_partitioning = false)) TO {} "
      "(FORMAT csv, HEADER true)",
      QuoteLiteral(data + "/*/*/*/*/*.parquet"), QuoteLiteral(dir + "/features.csv"))));
  std::string base = fmt::format(
      "SELECT 'C' || lpad(CAST(hash(i * 3 + 1) % {ids} AS VARCHAR), 8, '0') AS customer_id, "
      "to_timestamp({t0} + hash(i * 5 + 2) % {span}) AS event_time, CAST(i % 2 AS BIGINT) AS label "
      "FROM range({n}) t(i)",
      fmt::arg("ids", ids), fmt::arg("t0", kT0), fmt::arg("span", span), fmt::arg("n", entities));
  RETURN_IF_ERROR(conn->Execute(fmt::format("COPY ({}) TO {} (FORMAT parquet)", base,
                                            QuoteLiteral(dir + "/base.parquet"))));
  RETURN_IF_ERROR(conn->Execute(fmt::format(
      "COPY (SELECT customer_id, epoch(event_time) AS event_time, label FROM read_parquet({})) TO {} "
      "(FORMAT csv, HEADER true)",
      QuoteLiteral(dir + "/base.parquet"), QuoteLiteral(dir + "/base.csv"))));
  ASSIGN_OR_RETURN(auto files, offline::ListParquetFiles(data));
  std::printf("generated %lld entity rows, %lld feature rows over %lld ids in %zu files under %s\n",
              static_cast<long long>(entities), static_cast<long long>(rows), static_cast<long long>(ids),
              files.size(), data.c_str());
  return Status::OK();
}

Status Run(const std::map<std::string, std::string>& flags) {
  const std::string dir = flags.at("dir");
  const std::string engine = flags.at("engine");
  const int threads = static_cast<int>(Flag(flags, "threads", 0));
  const int64_t memory_mb = Flag(flags, "memory-mb", 1024);
  catalog::FeatureGroup g = Group();
  offline::OfflineLayout layout(dir, "123456789012", "us-east-1");
  ASSIGN_OR_RETURN(std::string root, offline::OfflineLayout::GroupRoot(g));
  ASSIGN_OR_RETURN(std::vector<std::string> files, offline::ListParquetFiles(layout.DataDir(root)));
  const std::string out = dir + "/out-" + engine + ".parquet";
  std::filesystem::remove(out);
  const auto start = std::chrono::steady_clock::now();
  int64_t rows = 0;
  if (engine == "larder") {
    offline::DatasetBuilderOptions o;
    o.threads = threads;
    o.memory_limit_bytes = memory_mb << 20;
    o.temp_directory = dir + "/tmp";
    ASSIGN_OR_RETURN(auto builder, offline::DatasetBuilder::Open(o));
    offline::DatasetSpec s;
    offline::BaseFile b;
    b.path = dir + "/base.parquet";
    b.record_identifier = "customer_id";
    b.event_time = "event_time";
    s.base_file = b;
    offline::GroupJoin j;
    j.data = offline::GroupData{std::make_shared<const catalog::FeatureGroup>(g), files};
    // The 8 features, as the DuckDB peer outputs them (the SDK default would add the group's
    // identifier and event time too).
    for (size_t k = 2; k < g.features.size(); ++k) j.features.push_back(g.features[k].name);
    s.groups.push_back(j);
    s.output_path = out;
    if (flags.count("explain") != 0) {
      ASSIGN_OR_RETURN(std::string sql, builder->Explain(s));
      std::printf("%s\n", sql.c_str());
      return Status::OK();
    }
    offline::TerminalProgressBar bar;
    ASSIGN_OR_RETURN(offline::DatasetResult r, builder->Build(s, bar.Callback()));
    rows = r.rows;
  } else if (engine == "duckdb") {
    ASSIGN_OR_RETURN(auto db, OpenDb(threads, memory_mb, dir + "/tmp"));
    ASSIGN_OR_RETURN(auto conn, db->Connect());
    std::string list = "[";
    for (size_t i = 0; i < files.size(); ++i) list += (i ? ", " : "") + QuoteLiteral(files[i]);
    list += "]";
    std::string sql = fmt::format(
        "COPY (SELECT b.*, f.* EXCLUDE (customer_id, event_time, api_invocation_time, write_time, is_deleted, ts) "
        "FROM read_parquet({}) b ASOF LEFT JOIN (SELECT *, to_timestamp(event_time) AS ts FROM read_parquet({}, "
        "hive_partitioning = false)) f ON b.customer_id = f.customer_id AND b.event_time >= f.ts) TO {} "
        "(FORMAT parquet)",
        QuoteLiteral(dir + "/base.parquet"), list, QuoteLiteral(out));
    ASSIGN_OR_RETURN(auto result, conn->Query(sql));
    rows = result->rows_changed();
  } else {
    return Status::InvalidArgument(fmt::format("--engine must be larder or duckdb, got '{}'", engine));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("engine=%s seconds=%.2f rows=%lld peak_rss_mb=%.0f\n", engine.c_str(), seconds,
              static_cast<long long>(rows), PeakRssMb());
  return Status::OK();
}

}  // namespace
}  // namespace larder::bench

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s generate|run --dir D [--flag value]...\n", argv[0]);
    return 2;
  }
  std::string cmd = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) {
      std::fprintf(stderr, "expected --flag, got '%s'\n", argv[i]);
      return 2;
    }
    flags[name.substr(2)] = argv[i + 1];
  }
  if (flags.count("dir") == 0) {
    std::fprintf(stderr, "--dir is required\n");
    return 2;
  }
  larder::Status s = cmd == "generate" ? larder::bench::Generate(flags)
                     : cmd == "run"    ? larder::bench::Run(flags)
                                       : larder::Status::InvalidArgument("unknown command '" + cmd + "'");
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
