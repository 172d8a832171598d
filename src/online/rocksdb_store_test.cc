#include "online/rocksdb_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "online/test_util.h"

namespace larder::online {
namespace {

using testing::Delete;
using testing::MarkerBytes;
using testing::Payload;
using testing::Put;
using testing::RecordBytes;
using testing::TempDir;
using Kind = Mutation::Kind;

constexpr int64_t kSec = 1'000'000;

class RocksDbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(Durability durability = Durability::kProcess) {
    store_.reset();
    RocksDbStoreOptions o;
    o.path = dir_.path() + "/online";
    o.clock = &clock_;
    o.purge_interval_micros = 0;  // tests purge by hand
    o.durability = durability;
    o.block_cache_bytes = 1 << 20;
    o.write_buffer_bytes = 1 << 20;
    auto s = OpenRocksDbStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  std::vector<Outcome> Write(std::vector<Mutation> ms) {
    std::vector<Outcome> out;
    Status s = store_->Write(ms, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  Outcome Write1(Mutation m) { return Write({std::move(m)})[0]; }

  // The payload GetRecord would see, or nullopt.
  std::optional<std::string> Get(uint64_t group, std::string_view id,
                                 std::optional<int64_t>* expires = nullptr) {
    std::optional<std::string> payload;
    StatusOr<bool> found = store_->Get(group, id, [&](const StoredRecord& r) {
      payload = Payload(r.record);
      if (expires != nullptr) *expires = r.expires_at_micros;
    });
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_EQ(found.ok() && *found, payload.has_value());
    return payload;
  }

  std::vector<OutboxEntry> Outbox(uint64_t after = 0) {
    auto r = store_->outbox()->Read(after, 1000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<OutboxEntry>{};
  }

  TempDir dir_;
  FakeClock clock_{1'000 * kSec};
  std::unique_ptr<OnlineStore> store_;
};

TEST_F(RocksDbStoreTest, LatestEventTimeWinsAndTiesGoToTheLaterArrival) {
  EXPECT_EQ(Write1(Put(1, "a", "v10", 10 * kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), "v10");
  EXPECT_EQ(Write1(Put(1, "a", "v5", 5 * kSec)), Outcome::kHistoric);
  EXPECT_EQ(Get(1, "a"), "v10");
  EXPECT_EQ(Write1(Put(1, "a", "v10b", 10 * kSec)), Outcome::kApplied);  // tie: later wins
  EXPECT_EQ(Get(1, "a"), "v10b");
  EXPECT_EQ(Write1(Put(1, "a", "v11", 11 * kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), "v11");
  EXPECT_EQ(Get(1, "b"), std::nullopt);
  EXPECT_EQ(Get(2, "a"), std::nullopt);  // groups are separate
  // Every put, historic or not, reaches the outbox.
  std::vector<OutboxEntry> out = Outbox();
  ASSERT_EQ(out.size(), 4u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].seq, i + 1);
    EXPECT_EQ(out[i].group_id, 1u);
    EXPECT_FALSE(out[i].is_deleted);
  }
  EXPECT_EQ(Payload(out[1].record), "v5");
  EXPECT_EQ(store_->outbox()->LastSeq(), 4u);
}

TEST_F(RocksDbStoreTest, TargetStoresLimitWhatIsTouched) {
  EXPECT_EQ(Write1(Put(1, "a", "online-only", 10 * kSec, std::nullopt, true, false)),
            Outcome::kApplied);
  EXPECT_TRUE(Outbox().empty());
  EXPECT_EQ(Write1(Put(1, "a", "offline-only", 20 * kSec, std::nullopt, false, true)),
            Outcome::kOfflineOnly);
  EXPECT_EQ(Get(1, "a"), "online-only");
  ASSERT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(Payload(Outbox()[0].record), "offline-only");
}

TEST_F(RocksDbStoreTest, SoftDeleteTombstoneKeepsTheDeleteEventTime) {
  Write1(Put(1, "a", "v10", 10 * kSec));
  EXPECT_EQ(Write1(Delete(Kind::kSoftDelete, 1, "a", 10 * kSec)), Outcome::kNotNewer);
  EXPECT_EQ(Get(1, "a"), "v10");  // not later: the record stays
  EXPECT_EQ(Write1(Delete(Kind::kSoftDelete, 1, "a", 20 * kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), std::nullopt);
  // Older puts do not resurrect it; a newer one does; a tie with the tombstone wins (later).
  EXPECT_EQ(Write1(Put(1, "a", "v15", 15 * kSec)), Outcome::kHistoric);
  EXPECT_EQ(Get(1, "a"), std::nullopt);
  EXPECT_EQ(Write1(Put(1, "a", "v20", 20 * kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), "v20");
  // Both soft deletes appended a marker, even the one that changed nothing online.
  std::vector<OutboxEntry> out = Outbox();
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[1].is_deleted);
  EXPECT_TRUE(out[2].is_deleted);
  EXPECT_EQ(out[2].record, MarkerBytes("a", 20 * kSec));
  // List shows tombstones only when asked.
  Write1(Delete(Kind::kSoftDelete, 1, "b", 5 * kSec));
  auto page = store_->List(1, ListOptions{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->identifiers, std::vector<std::string>{"a"});
  ListOptions with_deleted;
  with_deleted.include_soft_deleted = true;
  page = store_->List(1, with_deleted);
  EXPECT_EQ(page->identifiers, (std::vector<std::string>{"a", "b"}));
}

TEST_F(RocksDbStoreTest, HardDeleteRemovesTheRowOnlyWhenNewer) {
  Write1(Put(1, "a", "v10", 10 * kSec));
  EXPECT_EQ(Write1(Delete(Kind::kHardDelete, 1, "a", 9 * kSec)), Outcome::kNotNewer);
  EXPECT_EQ(Write1(Delete(Kind::kHardDelete, 1, "a", 10 * kSec)), Outcome::kNotNewer);
  EXPECT_EQ(Get(1, "a"), "v10");
  EXPECT_EQ(Outbox().size(), 1u);  // no marker for a refused hard delete
  EXPECT_EQ(Write1(Delete(Kind::kHardDelete, 1, "a", 11 * kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), std::nullopt);
  ASSERT_EQ(Outbox().size(), 2u);
  EXPECT_TRUE(Outbox()[1].is_deleted);
  // The row is gone, so an older put is accepted again.
  EXPECT_EQ(Write1(Put(1, "a", "v1", 1 * kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), "v1");
  ListOptions with_deleted;
  with_deleted.include_soft_deleted = true;
  Write1(Delete(Kind::kHardDelete, 1, "a", 2 * kSec));
  EXPECT_TRUE(store_->List(1, with_deleted)->identifiers.empty());
}

TEST_F(RocksDbStoreTest, TtlHidesAtExpiryAndThePurgerAppendsTheExpiryMarker) {
  const int64_t now = clock_.NowMicros();
  Write1(Put(1, "a", "v", now, now + 60 * kSec));
  Write1(Put(1, "b", "w", now));  // no TTL
  std::optional<int64_t> expires;
  EXPECT_EQ(Get(1, "a", &expires), "v");
  EXPECT_EQ(expires, now + 60 * kSec);
  clock_.AdvanceMicros(60 * kSec - 1);
  EXPECT_EQ(Get(1, "a"), "v");
  EXPECT_EQ(*store_->PurgeExpired(100), 0u);
  clock_.AdvanceMicros(1);  // now == expires_at: expired
  EXPECT_EQ(Get(1, "a"), std::nullopt);
  EXPECT_EQ(store_->List(1, ListOptions{})->identifiers, std::vector<std::string>{"b"});
  EXPECT_EQ(Outbox().size(), 2u);  // hidden, not yet purged
  EXPECT_EQ(*store_->PurgeExpired(100), 1u);
  std::vector<OutboxEntry> out = Outbox();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[2].is_deleted);
  EXPECT_EQ(out[2].record, MarkerBytes("a", now + 60 * kSec));
  EXPECT_EQ(out[2].api_invocation_time_micros, clock_.NowMicros());
  EXPECT_EQ(*store_->PurgeExpired(100), 0u);  // once only
  EXPECT_EQ(Get(1, "b"), "w");
}

TEST_F(RocksDbStoreTest, ReplacingAnExpiredRowAppendsItsMarkerOnceAndAcceptsOlderPuts) {
  const int64_t t0 = clock_.NowMicros();
  Write1(Put(1, "a", "v", t0, t0 + kSec));
  clock_.AdvanceMicros(2 * kSec);
  // Expired means gone: an older event time is accepted, as after a hard delete.
  EXPECT_EQ(Write1(Put(1, "a", "older", t0 - kSec)), Outcome::kApplied);
  EXPECT_EQ(Get(1, "a"), "older");
  std::vector<OutboxEntry> out = Outbox();
  ASSERT_EQ(out.size(), 3u);  // put, expiry marker, put
  EXPECT_TRUE(out[1].is_deleted);
  EXPECT_EQ(out[1].record, MarkerBytes("a", t0 + kSec));
  EXPECT_EQ(*store_->PurgeExpired(100), 0u);  // the stale index entry is gone
  EXPECT_EQ(Outbox().size(), 3u);
}

TEST_F(RocksDbStoreTest, OverwritingMovesTheExpiry) {
  const int64_t t0 = clock_.NowMicros();
  Write1(Put(1, "a", "v1", t0, t0 + kSec));
  Write1(Put(1, "a", "v2", t0 + 1, t0 + 100 * kSec));
  clock_.AdvanceMicros(2 * kSec);
  EXPECT_EQ(Get(1, "a"), "v2");
  EXPECT_EQ(*store_->PurgeExpired(100), 0u);
  Write1(Put(1, "a", "v3", t0 + 2));  // no TTL any more
  clock_.AdvanceMicros(1000 * kSec);
  EXPECT_EQ(*store_->PurgeExpired(100), 0u);
  EXPECT_EQ(Get(1, "a"), "v3");
  EXPECT_EQ(Outbox().size(), 3u);
}

TEST_F(RocksDbStoreTest, ABatchAppliesInOrderWithOneCommit) {
  std::vector<Outcome> out = Write({Put(1, "a", "v2", 2 * kSec), Put(1, "a", "v1", 1 * kSec),
                                    Put(1, "b", "x", 1 * kSec), Put(1, "a", "v3", 3 * kSec)});
  EXPECT_EQ(out, (std::vector<Outcome>{Outcome::kApplied, Outcome::kHistoric, Outcome::kApplied,
                                       Outcome::kApplied}));
  EXPECT_EQ(Get(1, "a"), "v3");
  EXPECT_EQ(Get(1, "b"), "x");
  EXPECT_EQ(Outbox().size(), 4u);
}

TEST_F(RocksDbStoreTest, MultiGetSkipsMissingDeletedAndExpired) {
  const int64_t now = clock_.NowMicros();
  Write({Put(1, "a", "va", 1), Put(1, "b", "vb", 1), Put(1, "c", "vc", 1, now),
         Delete(Kind::kSoftDelete, 1, "b", 2)});
  std::vector<std::string_view> ids = {"a", "b", "c", "zz", "a"};
  std::vector<std::pair<size_t, std::string>> got;
  ASSERT_TRUE(store_
                  ->MultiGet(1, ids,
                             [&](size_t i, const StoredRecord& r) {
                               got.emplace_back(i, Payload(r.record));
                             })
                  .ok());
  EXPECT_EQ(got, (std::vector<std::pair<size_t, std::string>>{{0, "va"}, {4, "va"}}));
}

TEST_F(RocksDbStoreTest, ListPagesInIdentifierOrder) {
  std::vector<Mutation> ms;
  for (int i = 0; i < 25; ++i) ms.push_back(Put(3, "id" + std::to_string(100 + i), "v", 1));
  ms.push_back(Put(4, "other", "v", 1));
  Write(std::move(ms));
  std::vector<std::string> all;
  ListOptions o;
  o.max_results = 10;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    o.start_after = after;
    auto page = store_->List(3, o);
    ASSERT_TRUE(page.ok());
    all.insert(all.end(), page->identifiers.begin(), page->identifiers.end());
    if (!page->more) break;
    after = page->identifiers.back();
  }
  ASSERT_EQ(all.size(), 25u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(all.front(), "id100");
}

TEST_F(RocksDbStoreTest, DropGroupRemovesOnlyThatGroup) {
  Write({Put(5, "a", "v", 1), Put(5, "b", "v", 1, clock_.NowMicros() + kSec), Put(6, "a", "w", 1)});
  ASSERT_TRUE(store_->DropGroup(5).ok());
  EXPECT_EQ(Get(5, "a"), std::nullopt);
  EXPECT_EQ(Get(5, "b"), std::nullopt);
  EXPECT_EQ(Get(6, "a"), "w");
  EXPECT_TRUE(store_->List(5, ListOptions{})->identifiers.empty());
  size_t before = Outbox().size();
  clock_.AdvanceMicros(10 * kSec);
  EXPECT_EQ(*store_->PurgeExpired(100),
            0u);  // a dropped group's rows do not expire into the outbox
  EXPECT_EQ(Outbox().size(), before);
}

TEST_F(RocksDbStoreTest, OutboxTrimSurvivesReopenAndSeqsAreNeverReused) {
  for (int i = 0; i < 5; ++i) Write1(Put(1, "k" + std::to_string(i), "v", 1));
  ASSERT_TRUE(store_->outbox()->Trim(3).ok());
  EXPECT_EQ(Outbox().front().seq, 4u);
  EXPECT_EQ(store_->outbox()->ApproximateCount(), 2u);
  ASSERT_TRUE(store_->outbox()->Trim(5).ok());
  EXPECT_TRUE(Outbox().empty());
  Open();  // everything trimmed: the next seq must still be 6
  EXPECT_EQ(store_->outbox()->LastSeq(), 5u);
  Write1(Put(1, "k", "v", 1));
  ASSERT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(Outbox()[0].seq, 6u);
  EXPECT_EQ(Get(1, "k0"), "v");  // data survived the reopen
}

TEST_F(RocksDbStoreTest, ReopensInFsyncMode) {
  Write1(Put(1, "a", "v", 1));
  Open(Durability::kFsync);
  EXPECT_EQ(Get(1, "a"), "v");
  Write1(Put(1, "a", "w", 2));
  EXPECT_EQ(Get(1, "a"), "w");
}

TEST_F(RocksDbStoreTest, ApproximateGroupBytesGrowsWithData) {
  EXPECT_EQ(store_->ApproximateGroupBytes(9), 0u);
  std::vector<Mutation> ms;
  for (int i = 0; i < 200; ++i)
    ms.push_back(Put(9, "k" + std::to_string(i), std::string(100, 'x'), 1));
  Write(std::move(ms));
  EXPECT_GT(store_->ApproximateGroupBytes(9), 0u);
}

TEST(DurabilityTest, ParsesBothModesAndRejectsOthers) {
  EXPECT_EQ(*ParseDurability("process"), Durability::kProcess);
  EXPECT_EQ(*ParseDurability("fsync"), Durability::kFsync);
  EXPECT_THAT(ParseDurability("sometimes").status().message(),
              ::testing::HasSubstr("\"sometimes\""));
}

// Concurrent writers on a few hot keys: the final row is the highest event time written, every
// write reaches the outbox exactly once, and a reader trimming concurrently loses nothing.
TEST_F(RocksDbStoreTest, ConcurrentWritersKeepLatestWinsAndTheOutboxGapFree) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 400;
  constexpr int kKeys = 5;
  std::atomic<bool> done{false};
  std::multiset<std::string> seen;  // payloads read from the outbox
  uint64_t read_up_to = 0;
  std::thread reader([&] {
    for (;;) {
      bool finished = done.load();
      uint64_t last = store_->outbox()->LastSeq();
      for (;;) {
        auto batch = store_->outbox()->Read(read_up_to, 97);
        ASSERT_TRUE(batch.ok());
        if (batch->empty()) break;
        for (const OutboxEntry& e : *batch) {
          ASSERT_EQ(e.seq, read_up_to + 1) << "gap or reordering in the outbox";
          read_up_to = e.seq;
          seen.insert(Payload(e.record));
        }
        ASSERT_TRUE(store_->outbox()->Trim(read_up_to).ok());
      }
      if (finished && read_up_to >= last) break;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> writers;
  std::vector<std::map<int, int64_t>> max_time(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < kWritesPerThread; ++i) {
        int key = static_cast<int>(rng() % kKeys);
        // Unique event times so the winner is well defined.
        int64_t et = static_cast<int64_t>(rng() % 1'000'000) * 64 + t * 8 + 1;
        std::string payload =
            std::to_string(t) + ":" + std::to_string(i) + "@" + std::to_string(et);
        std::vector<Outcome> out;
        std::vector<Mutation> ms;
        ms.push_back(Put(1, "key" + std::to_string(key), payload, et));
        ASSERT_TRUE(store_->Write(ms, &out).ok());
        auto& m = max_time[t][key];
        m = std::max(m, et);
      }
    });
  }
  for (auto& w : writers) w.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kWritesPerThread));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  for (int key = 0; key < kKeys; ++key) {
    int64_t best = 0;
    for (auto& m : max_time) best = std::max(best, m[key]);
    std::optional<std::string> got = Get(1, "key" + std::to_string(key));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->substr(got->find('@') + 1), std::to_string(best)) << "key" << key;
  }
}

}  // namespace
}  // namespace larder::online
