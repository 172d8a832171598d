// From file rows to BatchWriteRecord entries: which file column feeds which feature (the
// ColumnPlan), and the conversion of each value to the text the Feature Store wire carries.
//
// Wire text per source type and feature type (a null value leaves the feature out of the record,
// as the SDK's ingest does for values that are not pd.notna; NaN counts as null):
//   integers            -> "42" for every feature type
//   FLOAT/DOUBLE        -> Integral: the integer when the value is whole ("12", never "12.0"),
//                          else the row is rejected; Fractional/String: the shortest text that
//                          reads back as the same double ("45.5", "1e-07", "1.5e+300");
//                          +-inf is rejected
//   text (VARCHAR; every CSV column is read as text) -> validated as the server does
//                          (catalog::CanonicalizeScalar): Integral "12.0" becomes "12", anything
//                          not a number is rejected; Fractional and String keep the text
//   BOOLEAN             -> String "true"/"false"; Integral/Fractional "1"/"0"
//   DATE                -> String "2024-05-01" (an event time: "2024-05-01T00:00:00Z")
//   TIMESTAMP[TZ]       -> String ISO-8601 UTC with 'Z' and only the fraction digits needed
//                          ("2024-05-01T12:00:00Z", "...:00.25Z"); Fractional: Unix seconds
//   TIME                -> String "12:00:00"
//   LIST/ARRAY          -> ValueAsStringList for a collection feature, each element as above;
//                          a null element rejects the row
// Event time (String or Fractional feature): the text must be what the server accepts (ISO-8601
// with 'Z', or Unix seconds); other text DuckDB can read as a timestamp ("2024-05-01 12:00:00",
// "2024-05-01T14:00:00+02:00") is converted to ISO-8601 UTC (String) or Unix seconds
// (Fractional). The record identifier must be present and non-empty.
//
// Thread-safety: PlanColumns is pure. An EntryEncoder is thread-compatible: one per worker.
#ifndef LARDER_INGEST_ENTRY_ENCODER_H_
#define LARDER_INGEST_ENTRY_ENCODER_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/feature_group.h"
#include "ingest/source.h"
#include "larder/status.h"
#include "offline/duckdb_engine.h"

namespace larder::ingest {

// One file column that feeds a feature.
struct ColumnPlan {
  std::string column;      // the file's column name (= the feature's name)
  int feature = -1;        // index into FeatureGroup::features
  offline::DataType type;  // the column's type as the scan returns it
  int select_index = -1;   // its position in EncodePlan::select_list
  // A helper column (TRY_CAST of the text) used when the text itself is not usable: an event
  // time read as text gets TIMESTAMPTZ, a collection read as text gets VARCHAR[]. -1: none.
  int cast_index = -1;
  offline::DataType cast_type;
};

struct EncodePlan {
  std::string group_name;
  std::vector<ColumnPlan> columns;  // in file column order
  int record_id = -1;               // index into columns
  int event_time = -1;              // index into columns
  // SQL expressions, in select_index order: the file columns, then the helper columns.
  std::vector<std::string> select_list;
  std::vector<std::string> ignored_columns;  // file columns that are not features
};

// Maps `source` (a file's columns as the scan returns them) onto `group`'s features by exact
// name. InvalidArgument when: the record identifier or event time column is missing; a column is
// not a feature (listing all of them and the group's features) unless `ignore_extra_columns`; a
// column's type cannot feed its feature (naming both types).
StatusOr<EncodePlan> PlanColumns(const catalog::FeatureGroup& group,
                                 const std::vector<offline::Column>& source,
                                 bool ignore_extra_columns);

// Where one entry sits in a request body: byte offsets of the whole entry object and of the JSON
// strings (quotes included) holding its record identifier and event time.
struct EntryRef {
  int64_t row = 0;  // 1-based data row in the file (the header is not a row)
  uint32_t begin = 0, end = 0;
  uint32_t id_begin = 0, id_end = 0;
  uint32_t et_begin = 0, et_end = 0;
};

class EntryEncoder {
 public:
  // `group` and `plan` are not owned and must outlive the encoder.
  EntryEncoder(const catalog::FeatureGroup& group, const EncodePlan& plan);

  // Appends the entry for `row` (laid out as plan.select_list) to *out as
  // {"FeatureGroupName":..,"Record":[..]} and fills *ref's offsets (not ref->row). On failure
  // returns InvalidArgument naming the feature and quoting the value, and leaves *out as it was.
  Status Append(const std::vector<offline::Datum>& row, std::string* out, EntryRef* ref);

  // Appends `row`'s file values as a JSON object {"column": value, ...} to *out (rejects file).
  void AppendRowJson(const std::vector<offline::Datum>& row, std::string* out);

  // Appends `text` as a JSON string (quotes, escapes) to *out.
  void AppendJsonString(std::string_view text, std::string* out);

 private:
  // Sets *text to the wire text of non-null `d` from column `c`; false (with *error) if it
  // cannot be converted. *text may point into d, num_ or scratch_.
  bool WireText(const ColumnPlan& c, const offline::DataType& type, const offline::Datum& d,
                const offline::Datum* cast, std::string_view* text, Status* error);
  bool ScalarText(const ColumnPlan& c, const offline::DataType& type, const offline::Datum& d,
                  std::string_view* text, Status* error);
  void AppendDatumJson(const offline::DataType& type, const offline::Datum& d);

  const catalog::FeatureGroup& group_;
  const EncodePlan& plan_;
  std::vector<std::string> scalar_prefix_;  // per plan column: {"FeatureName":"x","ValueAsString":
  std::vector<std::string> list_prefix_;    // per plan column: ...,"ValueAsStringList":[
  std::string entry_prefix_;                // {"FeatureGroupName":"g","Record":[
  char num_[64];
  std::string scratch_;
  std::vector<std::string> list_scratch_;
  rapidjson::StringBuffer sb_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// The shortest decimal text that reads back as `v` (finite), in fixed notation for
// 1e-4 <= |v| < 1e16 (and 0) and scientific otherwise, as Python's repr chooses. Whole values
// have no ".0". Returns the length written to buf (at least 32 bytes).
size_t FormatDouble(double v, char* buf, size_t size);

}  // namespace larder::ingest

#endif  // LARDER_INGEST_ENTRY_ENCODER_H_
