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

#include <cstddef>
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

// ---- Additions for the runtime write and read paths (online store helper). ----

// Size limits (spec 3.1): a value, a whole record, and a record identifier.
inline constexpr size_t kMaxValueBytes = 350 * 1024;
inline constexpr size_t kMaxRecordBytes = 350 * 1024;
inline constexpr size_t kMaxIdentifierBytes = 2 * 1024;

// Validates `text` as a scalar of type `type` for feature `feature_name` (spec 3.2 and 7) and
// stores its canonical text in *out: Integral "1.0" becomes "1"; a plain integer, a Fractional
// and a String keep the client's text. InvalidArgument names the feature and quotes the value.
Status CanonicalizeScalar(std::string_view feature_name, FeatureType type, std::string_view text,
                          std::string* out);

// One FeatureValue of a PutRecord request, before validation. The views must outlive the call.
struct FeatureValueInput {
  std::string_view name;
  bool has_scalar = false;  // ValueAsString was sent
  std::string_view scalar;
  bool has_list = false;  // ValueAsStringList was sent
  std::vector<std::string_view> list;
  bool list_has_null = false;  // the list held a JSON null item
};

// Validates a whole record against `group` and builds it: every name must be a defined feature,
// sent at most once; the identifier and the event time must be present; each value must match
// its feature's type and collection (Set de-duplicates keeping first occurrences, Vector needs
// exactly Dimension elements); value, record and identifier sizes stay within the limits above.
// Features not sent are null. Nothing is written anywhere: callers write only a returned Record.
StatusOr<Record> BuildRecord(const FeatureGroup& group, const std::vector<FeatureValueInput>& in);

// A delete or expiry marker: the identifier and the event time text at their schema positions,
// every other feature null (values stop after the last of the two).
Record MakeMarker(const FeatureGroup& group, std::string_view identifier,
                  std::string_view event_time_text, int64_t event_time_micros);

// The scalar at `index`, or "" when that value is absent or not a scalar.
std::string_view ScalarAt(const Record& record, int index);

// Formats `micros` as ISO-8601 UTC with milliseconds, "yyyy-MM-ddTHH:mm:ss.SSSZ" (ExpiresAt).
std::string FormatIsoMillis(int64_t micros);

// Formats `micros` as an event time in the style of `style_text`, a valid event time of a
// feature of type `type`: an ISO-8601 text gives ISO-8601 (fraction digits only when needed, up
// to 6), anything else Unix seconds ("1700000000" or "1700000000.25"). Used for expiry markers.
std::string FormatEventTimeLike(FeatureType type, std::string_view style_text, int64_t micros);

// Zero-copy reader over EncodeRecord bytes, for the read hot path (no allocation).
// Usage:
//   RecordReader r(bytes);
//   while (r.Next()) { switch (r.kind()) { ... r.scalar() ... while (r.NextElement(&e)) ... } }
//   if (!r.status().ok()) ...  // Corruption
// Thread-compatible; `in` must outlive the reader.
class RecordReader {
 public:
  explicit RecordReader(std::string_view in);

  // Event time and value count from the header; meaningful when status() is OK.
  int64_t event_time_micros() const { return event_time_micros_; }
  uint32_t size() const { return count_; }

  // Advances to the next value (the first on the first call). False at the end or on corruption.
  bool Next();
  int index() const { return static_cast<int>(index_) - 1; }  // position of the current value
  Value::Kind kind() const { return kind_; }
  std::string_view scalar() const { return scalar_; }  // when kind() == kScalar
  uint32_t list_size() const { return list_size_; }    // when kind() == kList
  // Next element of the current list; false when the list is exhausted or on corruption.
  bool NextElement(std::string_view* element);

  const Status& status() const { return status_; }

 private:
  bool Fail();
  bool SkipRestOfList();

  std::string_view in_;
  Status status_;
  int64_t event_time_micros_ = 0;
  uint32_t count_ = 0;
  uint32_t index_ = 0;  // index of the current value + 1 (0 before the first Next)
  Value::Kind kind_ = Value::Kind::kNull;
  std::string_view scalar_;
  uint32_t list_size_ = 0;
  uint32_t list_left_ = 0;
};

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_RECORD_H_
