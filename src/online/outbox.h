// The offline outbox: every accepted write, delete marker and TTL expiry, appended in the same
// atomic write as the online change, waiting for the offline flusher to turn it into Parquet.
// This header is engine-neutral: the RocksDB store implements it; src/offline consumes it.
#ifndef LARDER_ONLINE_OUTBOX_H_
#define LARDER_ONLINE_OUTBOX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "larder/status.h"

namespace larder::online {

struct OutboxEntry {
  uint64_t seq = 0;       // unique, strictly increasing in commit order, never reused
  uint64_t group_id = 0;  // catalog::FeatureGroup::id (the group may since have been deleted)
  int64_t api_invocation_time_micros = 0;  // when the request that caused it was received
  bool is_deleted = false;                 // a delete marker (spec 3.5)
  std::string record;  // catalog::EncodeRecord bytes; a marker holds identifier + event time only
};

// Thread-safe.
class OutboxReader {
 public:
  virtual ~OutboxReader() = default;
  // Up to `max` entries with seq > after_seq, in seq order.
  virtual StatusOr<std::vector<OutboxEntry>> Read(uint64_t after_seq, size_t max) = 0;
  // Durably removes every entry with seq <= up_to_seq. Call only once their rows are durable
  // in the offline store.
  virtual Status Trim(uint64_t up_to_seq) = 0;
  // The seq of the newest committed entry (0 if none ever). A write acknowledged to a client
  // before this call returns has seq <= the returned value.
  virtual uint64_t LastSeq() const = 0;
  // The largest seq W such that every seq <= W is committed or abandoned (its write failed):
  // Read never returns an entry above it, and entries at or below it never appear later.
  // LastSeq() may be larger while an earlier write is still committing. The default suits
  // outboxes whose entries commit in seq order.
  virtual uint64_t ReadableSeq() const { return LastSeq(); }
  // Approximate number and bytes of entries not yet trimmed.
  virtual uint64_t ApproximateCount() const = 0;
};

}  // namespace larder::online

#endif  // LARDER_ONLINE_OUTBOX_H_
