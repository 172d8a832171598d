// Record: one feature-group row as Larder stores it, and its compact binary encoding.
// The online store keeps it as the RocksDB value; the offline outbox carries the same bytes.
//
// Values are kept in canonical text form (what GetRecord returns): an Integral sent as "1.0"
// is stored as "1"; Fractional keeps the client's text when it parsed as a finite double.
// Offline code casts the text to typed Parquet columns using the group's schema.
//
// Thread-safety: values; no shared state.
#ifndef LARDER_CATALOG_RECORD_H_
#define LARDER_CATALOG_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::catalog {

struct Value {
  enum class Kind : uint8_t { kNull = 0, kScalar = 1, kList = 2 };
  Kind kind = Kind::kNull;
  std::string scalar;             // when kScalar
  std::vector<std::string> list;  // when kList (List/Set/Vector collections)
};

// values[i] belongs to group.features[i]. A record written before a FeatureAddition is
// shorter than the current schema: missing trailing values read as null.
struct Record {
  std::vector<Value> values;
  int64_t event_time_micros = 0;  // parsed event time, microseconds since the epoch (UTC)
};

// Appends the binary encoding of `record` to `out`. Layout (docs/storage-encoding.md):
// varint64 zigzag(event_time_micros), varint32 n, then n values: kind byte, then for kScalar
// varint32 len + bytes; for kList varint32 count, then per element varint32 len + bytes.
void EncodeRecord(const Record& record, std::string* out);

// Decodes what EncodeRecord wrote. Corruption on truncated or malformed input.
StatusOr<Record> DecodeRecord(std::string_view in);

// Parses an event time as the runtime accepts it (spec 3.2 and 7): for a String event-time
// feature, ISO-8601 UTC "yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z" or Unix seconds as a decimal string;
// for a Fractional one, Unix seconds. Returns microseconds since the epoch, or
// InvalidArgument naming `feature_name`, quoting `text` and listing the accepted forms.
StatusOr<int64_t> ParseEventTime(std::string_view feature_name, FeatureType type,
                                 std::string_view text);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_RECORD_H_
