// Test helpers for the dataset builder: write a group's offline rows as Parquet files in the
// real layout, write base tables, read a dataset back as canonical text cells. Test-only.
#ifndef LARDER_OFFLINE_DATASET_TEST_UTIL_H_
#define LARDER_OFFLINE_DATASET_TEST_UTIL_H_

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/feature_group.h"
#include "common/status_macros.h"
#include "offline/duckdb_engine.h"
#include "offline/offline_layout.h"

namespace larder::offline::testing {

// A typed cell: null, or a value of the column's type. Canonical() is how tests compare cells
// read back from a dataset with the ones they expect.
struct Cell {
  enum class Kind { kNull, kInt, kDouble, kText, kMicros, kBool } kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;

  static Cell Null() { return Cell(); }
  static Cell Int(int64_t v) {
    Cell c;
    c.kind = Kind::kInt;
    c.i = v;
    return c;
  }
  static Cell Double(double v) {
    Cell c;
    c.kind = Kind::kDouble;
    c.d = v;
    return c;
  }
  static Cell Text(std::string v) {
    Cell c;
    c.kind = Kind::kText;
    c.s = std::move(v);
    return c;
  }
  static Cell Micros(int64_t v) {
    Cell c;
    c.kind = Kind::kMicros;
    c.i = v;
    return c;
  }
  static Cell Bool(bool v) {
    Cell c;
    c.kind = Kind::kBool;
    c.i = v ? 1 : 0;
    return c;
  }

  // Integers and text that spell the same number compare equal ("7" == 7), as a CSV sniffer may
  // read either; doubles print shortest-round-trip.
  std::string Canonical() const {
    switch (kind) {
      case Kind::kNull:
        return "<null>";
      case Kind::kInt:
        return std::to_string(i);
      case Kind::kDouble:
        return fmt::format("{}", d);
      case Kind::kText:
        return s;
      case Kind::kMicros:
        return fmt::format("@{}", i);
      case Kind::kBool:
        return i ? "true" : "false";
    }
    return "";
  }
  Datum ToDatum() const {
    switch (kind) {
      case Kind::kNull:
        return Datum::Null();
      case Kind::kInt:
      case Kind::kMicros:
      case Kind::kBool:
        return Datum::Int(i);
      case Kind::kDouble:
        return Datum::Double(d);
      case Kind::kText:
        return Datum::Text(s);
    }
    return Datum::Null();
  }
};

inline Cell CellFromDatum(const Datum& d, const DataType& t) {
  if (d.is_null) return Cell::Null();
  switch (t.kind) {
    case TypeKind::kBoolean:
      return Cell::Bool(d.int_value != 0);
    case TypeKind::kTinyInt:
    case TypeKind::kSmallInt:
    case TypeKind::kInteger:
    case TypeKind::kBigInt:
    case TypeKind::kUTinyInt:
    case TypeKind::kUSmallInt:
    case TypeKind::kUInteger:
      return Cell::Int(d.int_value);
    case TypeKind::kFloat:
    case TypeKind::kDouble:
      return Cell::Double(d.double_value);
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampTz:
      return Cell::Micros(d.int_value);
    default:
      return Cell::Text(d.text);
  }
}

// One table to write: column names with SQL types, and rows of cells.
struct Table {
  std::vector<std::pair<std::string, std::string>> columns;  // name, SQL type
  std::vector<std::vector<Cell>> rows;
};

// Writes `table` to `path` with DuckDB: (FORMAT parquet) or (FORMAT csv, HEADER true).
inline Status WriteTable(Connection* conn, const Table& table, const std::string& path, bool csv) {
  std::string ddl = "CREATE OR REPLACE TEMP TABLE t_write (";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    ddl +=
        (i ? ", " : "") + QuoteIdentifier(table.columns[i].first) + " " + table.columns[i].second;
  }
  RETURN_IF_ERROR(conn->Execute(ddl + ")"));
  {
    ASSIGN_OR_RETURN(auto app, conn->CreateAppender("", "t_write"));
    for (const auto& row : table.rows) {
      std::vector<Datum> datums;
      for (const Cell& c : row) datums.push_back(c.ToDatum());
      RETURN_IF_ERROR(app->AppendRow(datums));
    }
    RETURN_IF_ERROR(app->Close());
  }
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  RETURN_IF_ERROR(conn->Execute("COPY t_write TO " + QuoteLiteral(path) +
                                (csv ? " (FORMAT csv, HEADER true)" : " (FORMAT parquet)")));
  return conn->Execute("DROP TABLE t_write");
}

// A dataset read back: column names and rows of cells.
struct ReadBack {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

inline StatusOr<ReadBack> ReadDataset(Connection* conn, const std::string& path, bool csv) {
  std::string source = csv ? "read_csv(" + QuoteLiteral(path) + ", header = true)"
                           : "read_parquet(" + QuoteLiteral(path) + ")";
  ASSIGN_OR_RETURN(auto result, conn->Query("SELECT * FROM " + source));
  ReadBack out;
  for (const Column& c : result->columns()) out.columns.push_back(c.name);
  Chunk chunk;
  while (true) {
    ASSIGN_OR_RETURN(bool more, result->Next(&chunk));
    if (!more) break;
    for (const auto& row : chunk.rows) {
      std::vector<Cell> cells;
      for (size_t c = 0; c < row.size(); ++c)
        cells.push_back(CellFromDatum(row[c], result->columns()[c].type));
      out.rows.push_back(std::move(cells));
    }
  }
  return out;
}

// Group rows as the offline store writes them: one cell per feature, then api_invocation_time,
// write_time (micros) and is_deleted.
inline Table OfflineTable(const catalog::FeatureGroup& g, size_t feature_count) {
  Table t;
  for (size_t i = 0; i < feature_count; ++i) {
    const catalog::FeatureDefinition& f = g.features[i];
    std::string type = f.type == catalog::FeatureType::kIntegral     ? "BIGINT"
                       : f.type == catalog::FeatureType::kFractional ? "DOUBLE"
                                                                     : "VARCHAR";
    t.columns.emplace_back(f.name, type);
  }
  t.columns.emplace_back("api_invocation_time", "TIMESTAMPTZ");
  t.columns.emplace_back("write_time", "TIMESTAMPTZ");
  t.columns.emplace_back("is_deleted", "BOOLEAN");
  return t;
}

// Where the flusher would put a file of `g` whose latest event is `event_micros`.
inline std::string OfflineFilePath(const OfflineLayout& layout, const catalog::FeatureGroup& g,
                                   int64_t event_micros, const std::string& suffix) {
  std::string root = OfflineLayout::GroupRoot(g).value();
  return layout.DataDir(root) + "/" + OfflineLayout::Partition(event_micros) + "/" +
         OfflineLayout::FileName(event_micros, suffix);
}

}  // namespace larder::offline::testing

#endif  // LARDER_OFFLINE_DATASET_TEST_UTIL_H_
