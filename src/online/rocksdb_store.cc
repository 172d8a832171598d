#include "online/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <system_error>
#include <thread>
#include <utility>

#include "catalog/record.h"
#include "common/status_macros.h"
#include "common/thread_annotations.h"

namespace larder::online {
namespace {

// ---- Keys and values (docs/storage-encoding.md). ----

constexpr char kRecordsCf[] = "records";  // BE64(group_id) + identifier -> row value
constexpr char kTtlCf[] = "ttl";          // BE64(biased expires_at) + BE64(group_id) + identifier
                                          //   -> expiry marker bytes (may be empty)
constexpr char kOutboxCf[] = "outbox";    // BE64(seq) -> outbox value
constexpr char kMetaCf[] = "meta";        // small named values

constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kFormatVersion = "1";
constexpr std::string_view kTrimmedKey = "outbox.trimmed";  // BE64: every seq <= it was trimmed

// Row value: flags byte, [BE64 biased expires_at when kHasExpiry], EncodeRecord bytes.
// A tombstone's record bytes are a Record with no values and the delete's event time.
constexpr uint8_t kRowTombstone = 1;
constexpr uint8_t kRowHasExpiry = 2;

// Outbox value: BE64 group_id, BE64 biased api_invocation_time, flags byte, record bytes.
constexpr uint8_t kOutboxDeleted = 1;
constexpr size_t kOutboxHeader = 17;

void EncodeBE64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t DecodeBE64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// Signed times as unsigned keys that sort in time order.
uint64_t Bias(int64_t t) { return static_cast<uint64_t>(t) ^ (uint64_t{1} << 63); }
int64_t Unbias(uint64_t u) { return static_cast<int64_t>(u ^ (uint64_t{1} << 63)); }

void AppendBE64(uint64_t v, std::string* out) {
  char buf[8];
  EncodeBE64(v, buf);
  out->append(buf, 8);
}

// BE64(group_id) + identifier, on the stack when it fits (the GetRecord hot path).
class RecordKey {
 public:
  RecordKey(uint64_t group_id, std::string_view identifier) {
    size_t n = 8 + identifier.size();
    char* p = inline_;
    if (n > sizeof(inline_)) {
      heap_.resize(n);
      p = heap_.data();
    }
    EncodeBE64(group_id, p);
    std::memcpy(p + 8, identifier.data(), identifier.size());
    slice_ = rocksdb::Slice(p, n);
  }
  RecordKey(const RecordKey&) = delete;
  RecordKey& operator=(const RecordKey&) = delete;
  const rocksdb::Slice& slice() const { return slice_; }

 private:
  char inline_[256];
  std::string heap_;
  rocksdb::Slice slice_;
};

std::string GroupPrefix(uint64_t group_id) {
  std::string s;
  AppendBE64(group_id, &s);
  return s;
}

std::string TtlKey(int64_t expires_at, uint64_t group_id, std::string_view identifier) {
  std::string k;
  k.reserve(16 + identifier.size());
  AppendBE64(Bias(expires_at), &k);
  AppendBE64(group_id, &k);
  k.append(identifier);
  return k;
}

struct RowHeader {
  bool tombstone = false;
  bool has_expiry = false;
  int64_t expires_at = 0;
  std::string_view record;  // EncodeRecord bytes
  int64_t event_time = 0;
};

bool ParseRow(std::string_view v, RowHeader* h) {
  if (v.empty()) return false;
  auto flags = static_cast<uint8_t>(v[0]);
  v.remove_prefix(1);
  if ((flags & ~(kRowTombstone | kRowHasExpiry)) != 0) return false;
  h->tombstone = (flags & kRowTombstone) != 0;
  h->has_expiry = (flags & kRowHasExpiry) != 0;
  if (h->has_expiry) {
    if (v.size() < 8) return false;
    h->expires_at = Unbias(DecodeBE64(v.data()));
    v.remove_prefix(8);
  }
  h->record = v;
  catalog::RecordReader reader(v);  // parses only the header varints
  if (!reader.status().ok()) return false;
  h->event_time = reader.event_time_micros();
  return true;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  std::string m = "online store: " + std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(m));
  if (s.IsBusy() || s.IsTryAgain() || s.IsShutdownInProgress() || s.IsIncomplete() ||
      s.IsTimedOut()) {
    return Status::Unavailable(std::move(m));
  }
  return Status::IOError(std::move(m));
}

// ---- Outbox sequence numbers. ----

// Hands out outbox seqs and tracks which have committed, so a reader never sees seq N+1 before
// N: entries are numbered before their commit and commits may finish out of order.
// Invariants: every seq <= watermark() is committed or was abandoned (its write failed);
// last_committed() is the largest committed seq; reservations are contiguous and increasing.
// Thread-safe.
class OutboxSequencer {
 public:
  void Reset(uint64_t last) {
    MutexLock l(&mu_);
    next_ = last;
    pending_.clear();
    watermark_.store(last, std::memory_order_release);
    last_committed_.store(last, std::memory_order_release);
  }

  // Reserves n >= 1 seqs; returns the first.
  uint64_t Reserve(size_t n) {
    MutexLock l(&mu_);
    uint64_t first = next_ + 1;
    next_ += n;
    pending_.push_back(Range{first, next_, false});
    return first;
  }

  // Reports the outcome of the write that reserved [first, first + n).
  void Finish(uint64_t first, size_t n, bool committed) {
    MutexLock l(&mu_);
    uint64_t last = first + n - 1;
    if (committed) {
      uint64_t prev = last_committed_.load(std::memory_order_relaxed);
      if (last > prev) last_committed_.store(last, std::memory_order_release);
    }
    auto it = std::lower_bound(pending_.begin(), pending_.end(), first,
                               [](const Range& r, uint64_t f) { return r.first < f; });
    if (it != pending_.end() && it->first == first) it->done = true;
    while (!pending_.empty() && pending_.front().done) pending_.pop_front();
    watermark_.store(pending_.empty() ? next_ : pending_.front().first - 1,
                     std::memory_order_release);
  }

  uint64_t watermark() const { return watermark_.load(std::memory_order_acquire); }
  uint64_t last_committed() const { return last_committed_.load(std::memory_order_acquire); }

 private:
  struct Range {
    uint64_t first;
    uint64_t last;
    bool done;
  };
  Mutex mu_;
  uint64_t next_ GUARDED_BY(mu_) = 0;  // the last reserved seq
  std::deque<Range> pending_ GUARDED_BY(mu_);
  std::atomic<uint64_t> watermark_{0};
  std::atomic<uint64_t> last_committed_{0};
};

// An outbox entry waiting for its seq, inside one Write.
struct PendingOutbox {
  uint64_t group_id;
  int64_t api_time;
  bool deleted;
  std::string_view bytes;
};

// The state of a row as a Write sees it (the database, or an earlier mutation of the batch).
struct RowState {
  enum class Kind { kAbsent, kLive, kTombstone };
  Kind kind = Kind::kAbsent;
  int64_t event_time = 0;
  bool has_expiry = false;
  int64_t expires_at = 0;
  // For a row written earlier in this batch: its expiry marker (the database holds none yet).
  bool in_batch = false;
  std::string_view batch_marker;
};

class RocksDbStore final : public OnlineStore, public OutboxReader {
 public:
  explicit RocksDbStore(const RocksDbStoreOptions& options)
      : options_(options),
        clock_(options.clock),
        n_stripes_(std::max<size_t>(1, options.lock_stripes)),
        stripes_(std::make_unique<Mutex[]>(n_stripes_)) {}

  ~RocksDbStore() override {
    {
      MutexLock l(&purger_mu_);
      stop_ = true;
    }
    purger_cv_.notify_all();
    if (purger_.joinable()) purger_.join();
    if (db_ != nullptr) {
      for (rocksdb::ColumnFamilyHandle* h : handles_) {
        rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
        (void)s;  // only fails for the default handle, which we do not destroy
      }
      rocksdb::Status s = db_->Close();
      (void)s;  // nothing to report to in a destructor; the WAL already holds every write
    }
  }

  Status Open();

  // OnlineStore
  Status Write(std::span<const Mutation> mutations, std::vector<Outcome>* outcomes) override;
  StatusOr<bool> Get(uint64_t group_id, std::string_view identifier,
                     FunctionRef<void(const StoredRecord&)> fn) override;
  Status MultiGet(uint64_t group_id, std::span<const std::string_view> identifiers,
                  FunctionRef<void(size_t, const StoredRecord&)> fn) override;
  StatusOr<ListPage> List(uint64_t group_id, const ListOptions& options) override;
  Status DropGroup(uint64_t group_id) override;
  StatusOr<size_t> PurgeExpired(size_t max_records) override;
  OutboxReader* outbox() override { return this; }
  uint64_t ApproximateGroupBytes(uint64_t group_id) override;

  // OutboxReader
  StatusOr<std::vector<OutboxEntry>> Read(uint64_t after_seq, size_t max) override;
  Status Trim(uint64_t up_to_seq) override;
  uint64_t LastSeq() const override { return sequencer_.last_committed(); }
  uint64_t ReadableSeq() const override { return sequencer_.watermark(); }
  uint64_t ApproximateCount() const override {
    uint64_t last = sequencer_.last_committed();
    uint64_t trimmed = trimmed_.load(std::memory_order_acquire);
    return last > trimmed ? last - trimmed : 0;
  }

 private:
  // Locks the stripes of a set of rows in ascending order (no deadlock between batches).
  class StripeLocks {
   public:
    explicit StripeLocks(RocksDbStore* store) : store_(store) {}
    void Add(uint64_t group_id, std::string_view identifier) {
      idx_.push_back(store_->StripeOf(group_id, identifier));
    }
    void LockAll() NO_THREAD_SAFETY_ANALYSIS {
      std::sort(idx_.begin(), idx_.end());
      idx_.erase(std::unique(idx_.begin(), idx_.end()), idx_.end());
      for (size_t i : idx_) store_->stripes_[i].Lock();
    }
    ~StripeLocks() NO_THREAD_SAFETY_ANALYSIS {
      for (size_t i : idx_) store_->stripes_[i].Unlock();
    }

   private:
    RocksDbStore* store_;
    std::vector<size_t> idx_;
  };

  size_t StripeOf(uint64_t group_id, std::string_view identifier) const {
    uint64_t h = std::hash<std::string_view>{}(identifier) ^ (group_id * 0x9E3779B97F4A7C15ULL);
    return static_cast<size_t>(h % n_stripes_);
  }

  // REQUIRES: the row's stripe is locked.
  Status ReadRow(const rocksdb::Slice& key, RowState* state);
  // The expiry marker the TTL index holds for a row, or "" when there is none.
  Status ReadExpiryMarker(int64_t expires_at, uint64_t group_id, std::string_view identifier,
                          std::string* marker);
  // Numbers `pending`, adds it to `batch` and commits the batch.
  Status Commit(rocksdb::WriteBatch* batch, const std::vector<PendingOutbox>& pending);
  void PurgerLoop();

  const RocksDbStoreOptions options_;
  const Clock* const clock_;
  const size_t n_stripes_;
  std::unique_ptr<Mutex[]> stripes_;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // released before db_ closes
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  rocksdb::ColumnFamilyHandle* ttl_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::WriteOptions write_options_;
  rocksdb::ReadOptions read_options_;

  OutboxSequencer sequencer_;
  std::atomic<uint64_t> trimmed_{0};
  Mutex trim_mu_;  // serializes Trim

  Mutex purger_mu_;
  std::condition_variable_any purger_cv_;
  bool stop_ GUARDED_BY(purger_mu_) = false;
  std::thread purger_;
};

Status RocksDbStore::Open() {
  if (options_.path.empty()) return Status::InvalidArgument("online store: no path given");
  if (clock_ == nullptr) return Status::InvalidArgument("online store: no clock given");
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) {
    return Status::IOError("online store: cannot create directory " + options_.path + ": " +
                           ec.message());
  }

  const size_t wb = std::max<size_t>(options_.write_buffer_bytes, 64u << 10);
  auto cache = rocksdb::NewLRUCache(options_.block_cache_bytes);

  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.max_open_files = 512;
  db.keep_log_file_num = 2;
  db.max_log_file_size = 4u << 20;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.stats_dump_period_sec = 0;
  db.stats_persist_period_sec = 0;
  db.enable_pipelined_write = true;
  db.max_total_wal_size = 8 * wb;  // flushes rarely written families so old logs can go
  db.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(3 * wb);
  db.avoid_unnecessary_blocking_io = true;
  db.bytes_per_sync = 1u << 20;

  rocksdb::BlockBasedTableOptions point;  // point lookups: bloom + hash index in data blocks
  point.block_cache = cache;
  point.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  point.whole_key_filtering = true;
  point.cache_index_and_filter_blocks = true;
  point.pin_l0_filter_and_index_blocks_in_cache = true;
  point.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  point.optimize_filters_for_memory = true;
  point.format_version = 5;
  rocksdb::BlockBasedTableOptions scan = point;  // scanned in order only: no filter
  scan.filter_policy.reset();
  scan.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinarySearch;

  rocksdb::CompressionType compression = rocksdb::kNoCompression;
  for (rocksdb::CompressionType c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) compression = c;
  }

  auto family = [&](size_t write_buffer, const rocksdb::BlockBasedTableOptions& table) {
    rocksdb::ColumnFamilyOptions cf;
    cf.write_buffer_size = write_buffer;
    cf.max_write_buffer_number = 2;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // Small upper levels stay uncompressed: blocks read from the page cache need no decoding.
    cf.compression_per_level = {rocksdb::kNoCompression,
                                rocksdb::kNoCompression,
                                rocksdb::kNoCompression,
                                compression,
                                compression,
                                compression,
                                compression};
    cf.level_compaction_dynamic_level_bytes = true;
    return cf;
  };
  rocksdb::ColumnFamilyOptions records = family(wb, point);
  records.memtable_whole_key_filtering = true;
  records.memtable_prefix_bloom_size_ratio = 0.02;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, family(64u << 10, scan)},
      {kRecordsCf, records},
      {kTtlCf, family(wb / 4, scan)},
      {kOutboxCf, family(wb / 4, scan)},
      {kMetaCf, family(64u << 10, point)},
  };

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db, options_.path, descriptors, &handles_, &raw);
  if (!s.ok()) return FromRocks(s, "open " + options_.path);
  db_.reset(raw);
  records_ = handles_[1];
  ttl_ = handles_[2];
  outbox_ = handles_[3];
  meta_ = handles_[4];
  // handles_[0] (default) is kept in the vector so the destructor releases it with the rest.

  write_options_.sync = options_.durability == Durability::kFsync;

  // Format check.
  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), meta_, rocksdb::Slice(kFormatKey.data(), kFormatKey.size()),
               &format);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    s = db_->Put(sync, meta_, rocksdb::Slice(kFormatKey.data(), kFormatKey.size()),
                 rocksdb::Slice(kFormatVersion.data(), kFormatVersion.size()));
    if (!s.ok()) return FromRocks(s, "write format");
  } else if (!s.ok()) {
    return FromRocks(s, "read format");
  } else if (format != kFormatVersion) {
    return Status::Corruption("online store at " + options_.path + " has format \"" + format +
                              "\"; this Larder reads format " + std::string(kFormatVersion));
  }

  // Outbox seqs continue after the newest entry ever committed, trimmed or not.
  uint64_t trimmed = 0;
  std::string t;
  s = db_->Get(rocksdb::ReadOptions(), meta_,
               rocksdb::Slice(kTrimmedKey.data(), kTrimmedKey.size()), &t);
  if (s.ok() && t.size() == 8) {
    trimmed = DecodeBE64(t.data());
  } else if (!s.ok() && !s.IsNotFound()) {
    return FromRocks(s, "read outbox trim point");
  }
  uint64_t last = trimmed;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
    it->SeekToLast();
    if (it->Valid() && it->key().size() == 8) last = std::max(last, DecodeBE64(it->key().data()));
    if (!it->status().ok()) return FromRocks(it->status(), "scan outbox");
  }
  trimmed_.store(trimmed, std::memory_order_release);
  sequencer_.Reset(last);

  if (options_.purge_interval_micros > 0) purger_ = std::thread([this] { PurgerLoop(); });
  return Status::OK();
}

Status RocksDbStore::ReadRow(const rocksdb::Slice& key, RowState* state) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(read_options_, records_, key, &value);
  *state = RowState();
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return FromRocks(s, "read row");
  RowHeader h;
  if (!ParseRow(value.ToStringView(), &h))
    return Status::Corruption("online store: row did not decode");
  state->kind = h.tombstone ? RowState::Kind::kTombstone : RowState::Kind::kLive;
  state->event_time = h.event_time;
  state->has_expiry = h.has_expiry;
  state->expires_at = h.expires_at;
  return Status::OK();
}

Status RocksDbStore::ReadExpiryMarker(int64_t expires_at, uint64_t group_id,
                                      std::string_view identifier, std::string* marker) {
  std::string key = TtlKey(expires_at, group_id, identifier);
  rocksdb::Status s = db_->Get(read_options_, ttl_, key, marker);
  if (s.IsNotFound()) {
    marker->clear();
    return Status::OK();
  }
  return s.ok() ? Status::OK() : FromRocks(s, "read TTL index");
}

Status RocksDbStore::Commit(rocksdb::WriteBatch* batch, const std::vector<PendingOutbox>& pending) {
  uint64_t first = 0;
  if (!pending.empty()) {
    first = sequencer_.Reserve(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) {
      const PendingOutbox& p = pending[i];
      char key[8];
      EncodeBE64(first + i, key);
      char header[kOutboxHeader];
      EncodeBE64(p.group_id, header);
      EncodeBE64(Bias(p.api_time), header + 8);
      header[16] = static_cast<char>(p.deleted ? kOutboxDeleted : 0);
      rocksdb::Slice key_slice(key, 8);
      rocksdb::Slice parts[2] = {rocksdb::Slice(header, kOutboxHeader),
                                 rocksdb::Slice(p.bytes.data(), p.bytes.size())};
      rocksdb::Status s =
          batch->Put(outbox_, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(parts, 2));
      if (!s.ok()) {
        sequencer_.Finish(first, pending.size(), false);
        return FromRocks(s, "build outbox entry");
      }
    }
  }
  if (batch->Count() == 0) return Status::OK();
  rocksdb::Status s = db_->Write(write_options_, batch);
  if (!pending.empty()) sequencer_.Finish(first, pending.size(), s.ok());
  return s.ok() ? Status::OK() : FromRocks(s, "write");
}

Status RocksDbStore::Write(std::span<const Mutation> mutations, std::vector<Outcome>* outcomes) {
  outcomes->assign(mutations.size(), Outcome::kApplied);
  StripeLocks locks(this);
  for (const Mutation& m : mutations) {
    if (m.online) locks.Add(m.group_id, m.identifier);
  }
  locks.LockAll();
  const int64_t now = clock_->NowMicros();

  rocksdb::WriteBatch batch;
  std::vector<PendingOutbox> pending;
  pending.reserve(mutations.size());
  std::deque<std::string> markers;  // expiry markers read from the TTL index, owned here
  // Rows already touched by this batch: (mutation index, state after it).
  std::vector<std::pair<size_t, RowState>> touched;

  for (size_t i = 0; i < mutations.size(); ++i) {
    const Mutation& m = mutations[i];
    const bool is_delete = m.kind != Mutation::Kind::kPut;
    if (!m.online) {
      if (m.offline)
        pending.push_back({m.group_id, m.api_invocation_time_micros, is_delete, m.record});
      (*outcomes)[i] = Outcome::kOfflineOnly;
      continue;
    }
    RecordKey key(m.group_id, m.identifier);
    RowState cur;
    bool found_in_batch = false;
    for (auto it = touched.rbegin(); it != touched.rend(); ++it) {
      const Mutation& prev = mutations[it->first];
      if (prev.group_id == m.group_id && prev.identifier == m.identifier) {
        cur = it->second;
        found_in_batch = true;
        break;
      }
    }
    if (!found_in_batch) RETURN_IF_ERROR(ReadRow(key.slice(), &cur));

    // The row this mutation replaces may hold an expiry; an expired record reads as absent,
    // and replacing it appends its expiry marker now (the purger will not see it again).
    if (cur.kind == RowState::Kind::kLive && cur.has_expiry && cur.expires_at <= now) {
      std::string_view marker = cur.batch_marker;
      if (!cur.in_batch) {
        RETURN_IF_ERROR(
            ReadExpiryMarker(cur.expires_at, m.group_id, m.identifier, &markers.emplace_back()));
        marker = markers.back();
      }
      if (!marker.empty()) pending.push_back({m.group_id, now, true, marker});
      batch.Delete(ttl_, TtlKey(cur.expires_at, m.group_id, m.identifier));
      cur = RowState();
    }
    const bool exists = cur.kind != RowState::Kind::kAbsent;
    auto drop_old_ttl = [&] {
      if (cur.kind == RowState::Kind::kLive && cur.has_expiry) {
        batch.Delete(ttl_, TtlKey(cur.expires_at, m.group_id, m.identifier));
      }
    };

    RowState next;
    switch (m.kind) {
      case Mutation::Kind::kPut: {
        if (exists && m.event_time_micros < cur.event_time) {
          if (m.offline)
            pending.push_back({m.group_id, m.api_invocation_time_micros, false, m.record});
          (*outcomes)[i] = Outcome::kHistoric;
          continue;
        }
        drop_old_ttl();
        char header[9];
        size_t header_len = 1;
        header[0] = static_cast<char>(m.expires_at_micros ? kRowHasExpiry : 0);
        if (m.expires_at_micros) {
          EncodeBE64(Bias(*m.expires_at_micros), header + 1);
          header_len = 9;
        }
        rocksdb::Slice parts[2] = {rocksdb::Slice(header, header_len),
                                   rocksdb::Slice(m.record.data(), m.record.size())};
        rocksdb::Status s = batch.Put(records_, rocksdb::SliceParts(&key.slice(), 1),
                                      rocksdb::SliceParts(parts, 2));
        if (!s.ok()) return FromRocks(s, "build row");
        if (m.expires_at_micros) {
          batch.Put(ttl_, TtlKey(*m.expires_at_micros, m.group_id, m.identifier), m.expiry_marker);
        }
        if (m.offline)
          pending.push_back({m.group_id, m.api_invocation_time_micros, false, m.record});
        next.kind = RowState::Kind::kLive;
        next.event_time = m.event_time_micros;
        next.has_expiry = m.expires_at_micros.has_value();
        next.expires_at = m.expires_at_micros.value_or(0);
        next.in_batch = true;
        next.batch_marker = m.expiry_marker;
        break;
      }
      case Mutation::Kind::kSoftDelete: {
        if (m.offline)
          pending.push_back({m.group_id, m.api_invocation_time_micros, true, m.record});
        if (exists && m.event_time_micros <= cur.event_time) {
          (*outcomes)[i] = Outcome::kNotNewer;
          continue;
        }
        drop_old_ttl();
        catalog::Record tomb;
        tomb.event_time_micros = m.event_time_micros;
        std::string value(1, static_cast<char>(kRowTombstone));
        catalog::EncodeRecord(tomb, &value);
        batch.Put(records_, key.slice(), value);
        next.kind = RowState::Kind::kTombstone;
        next.event_time = m.event_time_micros;
        next.in_batch = true;
        break;
      }
      case Mutation::Kind::kHardDelete: {
        if (exists && m.event_time_micros <= cur.event_time) {
          (*outcomes)[i] = Outcome::kNotNewer;
          continue;
        }
        drop_old_ttl();
        batch.Delete(records_, key.slice());
        if (m.offline)
          pending.push_back({m.group_id, m.api_invocation_time_micros, true, m.record});
        next.in_batch = true;
        break;
      }
    }
    touched.emplace_back(i, next);
  }
  return Commit(&batch, pending);
}

StatusOr<bool> RocksDbStore::Get(uint64_t group_id, std::string_view identifier,
                                 FunctionRef<void(const StoredRecord&)> fn) {
  RecordKey key(group_id, identifier);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(read_options_, records_, key.slice(), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "get");
  RowHeader h;
  if (!ParseRow(value.ToStringView(), &h))
    return Status::Corruption("online store: row did not decode");
  if (h.tombstone) return false;
  if (h.has_expiry && h.expires_at <= clock_->NowMicros()) return false;
  StoredRecord rec;
  rec.record = h.record;
  if (h.has_expiry) rec.expires_at_micros = h.expires_at;
  fn(rec);
  return true;
}

Status RocksDbStore::MultiGet(uint64_t group_id, std::span<const std::string_view> identifiers,
                              FunctionRef<void(size_t, const StoredRecord&)> fn) {
  const size_t n = identifiers.size();
  if (n == 0) return Status::OK();
  std::vector<std::string> keys(n);
  std::vector<rocksdb::Slice> slices(n);
  for (size_t i = 0; i < n; ++i) {
    keys[i].reserve(8 + identifiers[i].size());
    AppendBE64(group_id, &keys[i]);
    keys[i].append(identifiers[i]);
    slices[i] = keys[i];
  }
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(read_options_, records_, n, slices.data(), values.data(), statuses.data());
  const int64_t now = clock_->NowMicros();
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromRocks(statuses[i], "multi-get");
    RowHeader h;
    if (!ParseRow(values[i].ToStringView(), &h)) {
      return Status::Corruption("online store: row did not decode");
    }
    if (h.tombstone || (h.has_expiry && h.expires_at <= now)) continue;
    StoredRecord rec;
    rec.record = h.record;
    if (h.has_expiry) rec.expires_at_micros = h.expires_at;
    fn(i, rec);
  }
  return Status::OK();
}

StatusOr<ListPage> RocksDbStore::List(uint64_t group_id, const ListOptions& options) {
  ListPage page;
  const std::string prefix = GroupPrefix(group_id);
  std::string lower = prefix;
  if (!options.start_after.empty()) {
    lower.append(options.start_after);
    lower.push_back('\0');  // the smallest key after start_after
  }
  std::string upper;
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions ro = read_options_;
  if (group_id != UINT64_MAX) {
    upper = GroupPrefix(group_id + 1);
    upper_slice = upper;
    ro.iterate_upper_bound = &upper_slice;
  }
  ro.fill_cache = false;
  const int64_t now = clock_->NowMicros();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, records_));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(prefix)) break;
    RowHeader h;
    if (!ParseRow(it->value().ToStringView(), &h)) {
      return Status::Corruption("online store: row did not decode");
    }
    if (h.tombstone && !options.include_soft_deleted) continue;
    if (!h.tombstone && h.has_expiry && h.expires_at <= now) continue;
    if (page.identifiers.size() >= options.max_results) {
      page.more = true;
      break;
    }
    page.identifiers.emplace_back(k.data() + 8, k.size() - 8);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list");
  return page;
}

Status RocksDbStore::DropGroup(uint64_t group_id) {
  rocksdb::WriteBatch batch;
  const std::string begin = GroupPrefix(group_id);
  rocksdb::Status s;
  if (group_id == UINT64_MAX) {
    s = batch.DeleteRange(records_, begin, std::string(9, '\xff'));
  } else {
    s = batch.DeleteRange(records_, begin, GroupPrefix(group_id + 1));
  }
  if (!s.ok()) return FromRocks(s, "drop group");
  // TTL index entries of the group stay until the purger finds their rows gone.
  s = db_->Write(write_options_, &batch);
  return s.ok() ? Status::OK() : FromRocks(s, "drop group");
}

StatusOr<size_t> RocksDbStore::PurgeExpired(size_t max_records) {
  const int64_t now = clock_->NowMicros();
  struct Candidate {
    std::string ttl_key;
    int64_t expires_at;
    uint64_t group_id;
    std::string identifier;
    std::string marker;
  };
  std::vector<Candidate> due;
  {
    std::string upper;
    AppendBE64(Bias(now) + 1, &upper);  // every entry expiring at or before now
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro = read_options_;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, ttl_));
    for (it->SeekToFirst(); it->Valid() && due.size() < max_records; it->Next()) {
      rocksdb::Slice k = it->key();
      if (k.size() < 16) continue;
      Candidate& c = due.emplace_back();
      c.ttl_key = k.ToString();
      c.expires_at = Unbias(DecodeBE64(k.data()));
      c.group_id = DecodeBE64(k.data() + 8);
      c.identifier.assign(k.data() + 16, k.size() - 16);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan TTL index");
  }
  size_t removed = 0;
  const size_t chunk = std::max<size_t>(1, options_.purge_batch);
  for (size_t begin = 0; begin < due.size(); begin += chunk) {
    const size_t end = std::min(due.size(), begin + chunk);
    StripeLocks locks(this);
    for (size_t i = begin; i < end; ++i) locks.Add(due[i].group_id, due[i].identifier);
    locks.LockAll();
    rocksdb::WriteBatch batch;
    std::vector<PendingOutbox> pending;
    size_t chunk_removed = 0;
    for (size_t i = begin; i < end; ++i) {
      Candidate& c = due[i];
      RecordKey key(c.group_id, c.identifier);
      RowState row;
      RETURN_IF_ERROR(ReadRow(key.slice(), &row));
      batch.Delete(ttl_, c.ttl_key);
      // Only the record this index entry was written for; anything else makes it stale.
      if (row.kind == RowState::Kind::kLive && row.has_expiry && row.expires_at == c.expires_at) {
        // Re-read under the lock: the row may have been rewritten with this same expiry.
        RETURN_IF_ERROR(ReadExpiryMarker(c.expires_at, c.group_id, c.identifier, &c.marker));
        batch.Delete(records_, key.slice());
        if (!c.marker.empty()) pending.push_back({c.group_id, now, true, c.marker});
        ++chunk_removed;
      }
    }
    RETURN_IF_ERROR(Commit(&batch, pending));
    removed += chunk_removed;
  }
  return removed;
}

uint64_t RocksDbStore::ApproximateGroupBytes(uint64_t group_id) {
  const std::string begin = GroupPrefix(group_id);
  const std::string end =
      group_id == UINT64_MAX ? std::string(9, '\xff') : GroupPrefix(group_id + 1);
  rocksdb::Range range(begin, end);
  rocksdb::SizeApproximationOptions opts;
  opts.include_memtables = true;
  opts.include_files = true;
  opts.files_size_error_margin = 0.1;
  uint64_t size = 0;
  rocksdb::Status s = db_->GetApproximateSizes(opts, records_, &range, 1, &size);
  return s.ok() ? size : 0;
}

StatusOr<std::vector<OutboxEntry>> RocksDbStore::Read(uint64_t after_seq, size_t max) {
  std::vector<OutboxEntry> out;
  const uint64_t watermark = sequencer_.watermark();
  if (after_seq >= watermark || max == 0) return out;
  char lower[8];
  EncodeBE64(after_seq + 1, lower);
  char upper[8];
  EncodeBE64(watermark + 1, upper);  // watermark < UINT64_MAX: seqs never get there
  rocksdb::Slice upper_slice(upper, 8);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, outbox_));
  for (it->Seek(rocksdb::Slice(lower, 8)); it->Valid() && out.size() < max; it->Next()) {
    rocksdb::Slice k = it->key();
    rocksdb::Slice v = it->value();
    if (k.size() != 8 || v.size() < kOutboxHeader) {
      return Status::Corruption("online store: outbox entry did not decode");
    }
    OutboxEntry& e = out.emplace_back();
    e.seq = DecodeBE64(k.data());
    e.group_id = DecodeBE64(v.data());
    e.api_invocation_time_micros = Unbias(DecodeBE64(v.data() + 8));
    e.is_deleted = (static_cast<uint8_t>(v[16]) & kOutboxDeleted) != 0;
    e.record.assign(v.data() + kOutboxHeader, v.size() - kOutboxHeader);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read outbox");
  return out;
}

Status RocksDbStore::Trim(uint64_t up_to_seq) {
  MutexLock l(&trim_mu_);
  up_to_seq = std::min(up_to_seq, sequencer_.watermark());
  if (up_to_seq <= trimmed_.load(std::memory_order_acquire)) return Status::OK();
  rocksdb::WriteBatch batch;
  char begin[8], end[8], mark[8];
  EncodeBE64(0, begin);
  EncodeBE64(up_to_seq + 1, end);
  EncodeBE64(up_to_seq, mark);
  rocksdb::Status s = batch.DeleteRange(outbox_, rocksdb::Slice(begin, 8), rocksdb::Slice(end, 8));
  if (s.ok()) {
    s = batch.Put(meta_, rocksdb::Slice(kTrimmedKey.data(), kTrimmedKey.size()),
                  rocksdb::Slice(mark, 8));
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;  // "durably removes": a lost trim would replay rows into the offline store
  if (s.ok()) s = db_->Write(sync, &batch);
  if (!s.ok()) return FromRocks(s, "trim outbox");
  trimmed_.store(up_to_seq, std::memory_order_release);
  return Status::OK();
}

void RocksDbStore::PurgerLoop() {
  const auto interval = std::chrono::microseconds(options_.purge_interval_micros);
  MutexLock lock(&purger_mu_);
  while (!stop_) {
    purger_cv_.wait_for(purger_mu_, interval);
    if (stop_) break;
    purger_mu_.Unlock();
    // Catch up in batches; a failure is retried on the next round.
    for (;;) {
      StatusOr<size_t> n = PurgeExpired(options_.purge_batch);
      if (!n.ok() || *n < options_.purge_batch) break;
    }
    purger_mu_.Lock();
  }
}

}  // namespace

StatusOr<std::unique_ptr<OnlineStore>> OpenRocksDbStore(const RocksDbStoreOptions& options) {
  auto store = std::make_unique<RocksDbStore>(options);
  RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<OnlineStore>(std::move(store));
}

}  // namespace larder::online
