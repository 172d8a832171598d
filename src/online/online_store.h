// OnlineStore: the latest record per (feature group, record identifier), with the runtime's
// write semantics (spec 3.3-3.6 and 7), and the offline outbox fed by the same atomic writes.
//
// The interface is engine-neutral: records travel as catalog::EncodeRecord bytes and every
// schema-dependent decision (validation, markers, TTL arithmetic) is made by the caller, so a
// second engine (e.g. Redis Cluster) implements only storage, locking and the outbox.
#ifndef LARDER_ONLINE_ONLINE_STORE_H_
#define LARDER_ONLINE_ONLINE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "larder/status.h"
#include "online/outbox.h"

namespace larder::online {

// A non-owning reference to a callable; never allocates (cf. absl::FunctionRef). The callable
// must outlive the FunctionRef, so take it only as a parameter.
template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F>
  requires(!std::is_same_v<std::decay_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
      FunctionRef(F&& f)  // NOLINT: implicit, like absl::FunctionRef
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

// When a write is acknowledged, what it survives.
enum class Durability {
  kProcess,  // the write-ahead log is written (not synced) before the reply: survives kill -9
  kFsync,    // the log is fsync'ed before the reply (concurrent writers share one fsync):
             // survives power loss
};

// "process" | "fsync" -> Durability; InvalidArgument quoting anything else.
StatusOr<Durability> ParseDurability(std::string_view text);
std::string_view DurabilityName(Durability d);

// One change to one record. Built and validated by the caller (the runtime API).
struct Mutation {
  enum class Kind : uint8_t { kPut, kSoftDelete, kHardDelete };
  Kind kind = Kind::kPut;
  uint64_t group_id = 0;
  std::string identifier;                  // canonical record identifier value
  int64_t event_time_micros = 0;           // the record's, or the delete's, event time
  bool online = true;                      // apply to the online row (latest wins)
  bool offline = true;                     // append an outbox entry
  int64_t api_invocation_time_micros = 0;  // when the request was received
  // kPut: EncodeRecord bytes of the full record (the online value and the outbox entry).
  // Deletes: the delete marker for the outbox (identifier + event time, see catalog::MakeMarker).
  std::string record;
  // kPut only: absolute expiry (EventTime + TTL), or none.
  std::optional<int64_t> expires_at_micros;
  // kPut only: the marker to append to the outbox when the record expires; empty = append none
  // (the group has no offline store).
  std::string expiry_marker;
};

// What a mutation did.
enum class Outcome : uint8_t {
  kApplied,      // the online row changed (and the outbox entry, if any, was appended)
  kOfflineOnly,  // online == false: only the outbox entry was appended
  kHistoric,     // kPut older than the online row: online unchanged, outbox entry appended
  kNotNewer,     // a delete whose event time is not later than the online row's: online
                 // unchanged; a soft delete still appended its marker, a hard delete nothing
};

// A live online record as Get hands it to its callback. The views are valid only during the
// callback.
struct StoredRecord {
  std::string_view record;                   // EncodeRecord bytes
  std::optional<int64_t> expires_at_micros;  // when it expires, if it has a TTL
};

struct ListOptions {
  std::string_view start_after;  // list identifiers strictly greater than this ("" = from start)
  size_t max_results = 100;
  bool include_soft_deleted = false;
};

struct ListPage {
  std::vector<std::string> identifiers;  // ascending byte order
  bool more = false;                     // another page follows the last identifier
};

// Semantics (spec 3.3-3.6 and 7), per (group, identifier) row; "now" is the store's Clock:
// - A row is absent, a live record (event time, optional expiry) or a soft-delete tombstone
//   (the delete's event time). A live record whose expiry is <= now reads as absent; when a write
//   replaces it or the purger removes it, its expiry marker is appended to the outbox (once).
// - kPut: event time >= the row's (ties: the later arrival wins) replaces the row, a full
//   overwrite; an older one is historic and leaves the row alone.
// - kSoftDelete: newer than the row -> tombstone; else the row stays. The marker is appended
//   either way. kHardDelete: newer -> the row is removed and the marker appended; else nothing.
// - Every mutation of one Write commits atomically with its outbox entries, then the call
//   returns: acknowledged means durable per the store's Durability.
// Thread-safe: all methods may be called concurrently. Writes to one row are serialized by
// per-row (striped) locks; reads take no locks.
class OnlineStore {
 public:
  virtual ~OnlineStore() = default;

  // Applies `mutations` in order (one atomic commit) and sets (*outcomes)[i] for each.
  virtual Status Write(std::span<const Mutation> mutations, std::vector<Outcome>* outcomes) = 0;

  // Calls `fn` with the live record of (group_id, identifier) and returns true, or returns
  // false without calling it when there is none (absent, soft-deleted or expired).
  virtual StatusOr<bool> Get(uint64_t group_id, std::string_view identifier,
                             FunctionRef<void(const StoredRecord&)> fn) = 0;

  // Get for several identifiers of one group: calls fn(i, record) for each identifiers[i] that
  // has a live record, in index order.
  virtual Status MultiGet(uint64_t group_id, std::span<const std::string_view> identifiers,
                          FunctionRef<void(size_t, const StoredRecord&)> fn) = 0;

  // Identifiers of live records (and tombstones when asked), in ascending order.
  virtual StatusOr<ListPage> List(uint64_t group_id, const ListOptions& options) = 0;

  // Removes every row of the group (the catalog's deletion hook). Writes that race with it may
  // leave rows behind under the never-reused id; nothing reads them.
  virtual Status DropGroup(uint64_t group_id) = 0;

  // Removes up to `max_records` expired rows now, appending their expiry markers. Returns how
  // many rows were removed. The background purger calls this; tests call it directly.
  virtual StatusOr<size_t> PurgeExpired(size_t max_records) = 0;

  // The offline outbox this store appends to. Owned by the store.
  virtual OutboxReader* outbox() = 0;

  // Approximate bytes the group's rows take (DescribeFeatureGroup.OnlineStoreTotalSizeBytes).
  virtual uint64_t ApproximateGroupBytes(uint64_t group_id) = 0;
};

}  // namespace larder::online

#endif  // LARDER_ONLINE_ONLINE_STORE_H_
