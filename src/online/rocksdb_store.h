// The RocksDB online store: one database in <data dir>/online with a column family per concern
// (records, TTL index, outbox, meta). Layout and encodings: docs/storage-encoding.md.
// No RocksDB type appears here; the engine stays inside rocksdb_store.cc.
#ifndef LARDER_ONLINE_ROCKSDB_STORE_H_
#define LARDER_ONLINE_ROCKSDB_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "larder/status.h"
#include "online/online_store.h"

namespace larder::online {

struct RocksDbStoreOptions {
  // Directory of the database; created if missing. Required.
  std::string path;
  Durability durability = Durability::kProcess;
  // Shared LRU cache for data, index and filter blocks of every column family. It fills only as
  // data is read, so idle memory stays small.
  size_t block_cache_bytes = 8u << 20;
  // Memtable size of the records column family; the others get a quarter of it. Every memtable
  // together is capped at three times this (RocksDB's WriteBufferManager).
  size_t write_buffer_bytes = 4u << 20;
  // Source of "now" for expiry checks and expiry markers. Not owned; must outlive the store.
  const Clock* clock = Clock::Real();
  // How often the background purger removes expired rows; 0 runs no purger thread (tests call
  // PurgeExpired themselves).
  int64_t purge_interval_micros = 1'000'000;
  // Rows removed per purge commit.
  size_t purge_batch = 256;
  // Number of striped row locks serializing read-modify-write of one row.
  size_t lock_stripes = 1024;
};

// Opens (creating if needed) the store at options.path. IOError when RocksDB cannot open it;
// Corruption when its contents are not a Larder online store.
StatusOr<std::unique_ptr<OnlineStore>> OpenRocksDbStore(const RocksDbStoreOptions& options);

}  // namespace larder::online

#endif  // LARDER_ONLINE_ROCKSDB_STORE_H_
