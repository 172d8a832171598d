// Schema inference for `larder create-feature-group --from FILE`: feature definitions from the
// column types DuckDB detects in a sample of a CSV, Parquet or JSON file, following the
// SageMaker SDK's load_feature_definitions (spec section 5) and extending it where the SDK
// raises:
//
//   column type (DuckDB)                         feature           SDK
//   TINYINT..BIGINT, UTINYINT..UINTEGER          Integral          int*/uint* -> Integral
//   UBIGINT, HUGEINT, UHUGEINT                   Integral (*)      (values beyond int64 are
//                                                                   rejected row by row at ingest)
//   FLOAT, DOUBLE, DECIMAL                       Fractional        float* -> Fractional
//   VARCHAR, UUID, ENUM                          String            object/string -> String
//   BOOLEAN                                      String (*)        raises; Larder writes
//                                                                   "true"/"false"
//   DATE, TIMESTAMP, TIMESTAMP WITH TIME ZONE    String (*)        raises; Larder writes ISO-8601
//                                                                   ("2024-05-01",
//                                                                   "2024-05-01T12:00:00Z")
//   TIME                                         String (*)        raises; "12:00:00"
//   LIST/ARRAY of the scalars above              List of the       only with IN_MEMORY storage,
//                                                element's type    as the SDK (InMemory only)
//   anything else (BLOB, STRUCT, MAP, INTERVAL)  error naming the column
//   (*) = a note is shown with the schema.
//
// The event-time column must become String or Fractional (spec 3.2): text stays String;
// integers and floats become Fractional (Unix seconds); dates and timestamps become String
// (ISO-8601, UTC). A column whose sampled values are all null becomes String, with a note.
//
// `--type COL=Integral|Fractional|String` overrides a column's inferred type: CSV carries no
// types, so e.g. an event time written as Unix seconds ("1700000000") is sniffed as BIGINT and
// inferred Fractional; `--type event_time=String` keeps it text, as the walkthrough's pandas
// sample_df (str(int(time.time()))) does.
//
// Thread-safety: pure functions (InferSchema opens its own DuckDB instance).
#ifndef LARDER_INGEST_SCHEMA_INFERENCE_H_
#define LARDER_INGEST_SCHEMA_INFERENCE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "catalog/feature_group.h"
#include "ingest/source.h"
#include "larder/status.h"
#include "offline/duckdb_engine.h"

namespace larder::ingest {

struct InferenceOptions {
  FileFormat format = FileFormat::kAuto;
  std::string record_identifier;  // column name; required
  std::string event_time;         // column name; required
  // Rows sampled to detect CSV/JSON types; -1 = every row. Parquet carries its types.
  int64_t sample_rows = 20480;
  // Column -> type, replacing what was inferred (--type).
  std::map<std::string, catalog::FeatureType> overrides;
  // LIST/ARRAY columns become List collections (the group must use InMemory online storage).
  bool allow_collections = false;
};

struct InferredFeature {
  catalog::FeatureDefinition definition;
  std::string source_type;  // DuckDB's type, "BIGINT", "VARCHAR[]"
  std::string note;         // set when Larder decided where the SDK would raise or differ
};

struct InferredSchema {
  std::string path;
  FileFormat format = FileFormat::kAuto;
  std::vector<InferredFeature> features;  // in file column order
};

// Maps one column. `is_event_time` applies the event-time rule. InvalidArgument names the
// column and its type when it cannot be a feature.
StatusOr<InferredFeature> InferFeature(const offline::Column& column, bool is_event_time,
                                       const InferenceOptions& options);

// Maps every column of `columns` (a file's), checking that the record identifier and event
// time are among them, that every name is a valid feature name (not reserved, not a Glue
// partition name) and that every override names a column with a valid type for it.
StatusOr<InferredSchema> InferFromColumns(const std::vector<offline::Column>& columns,
                                          const InferenceOptions& options);

// Reads a sample of `path` with DuckDB and infers its schema.
StatusOr<InferredSchema> InferSchema(const std::string& path, const InferenceOptions& options);

}  // namespace larder::ingest

#endif  // LARDER_INGEST_SCHEMA_INFERENCE_H_
