// Randomized test of the online store against a brute-force in-memory model of the semantics
// (latest wins with ties to the later arrival, soft and hard deletes, TargetStores, TTL expiry
// and purging, group drops), with reopens in the middle. Each seed is an independent history;
// a failure prints its seed and step.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "online/rocksdb_store.h"
#include "online/test_util.h"

namespace larder::online {
namespace {

using testing::Delete;
using testing::MarkerBytes;
using testing::Payload;
using testing::Put;
using testing::TempDir;
using Kind = Mutation::Kind;

constexpr int64_t kSec = 1'000'000;

struct ModelRow {
  bool tombstone = false;
  int64_t event_time = 0;
  std::optional<int64_t> expires_at;
  std::string payload;
  std::string expiry_marker;
};

struct ModelEntry {
  uint64_t group_id;
  int64_t api_time;
  bool is_deleted;
  std::string bytes;
};

// The semantics, written as plainly as possible.
class Model {
 public:
  using Key = std::pair<uint64_t, std::string>;

  Outcome Apply(const Mutation& m, const std::string& payload, int64_t now) {
    const bool is_delete = m.kind != Kind::kPut;
    if (!m.online) {
      if (m.offline) Emit(m.group_id, m.api_invocation_time_micros, is_delete, m.record);
      return Outcome::kOfflineOnly;
    }
    Key key{m.group_id, m.identifier};
    auto it = rows_.find(key);
    if (it != rows_.end() && !it->second.tombstone && it->second.expires_at &&
        *it->second.expires_at <= now) {
      if (!it->second.expiry_marker.empty()) Emit(m.group_id, now, true, it->second.expiry_marker);
      rows_.erase(it);
      it = rows_.end();
    }
    const bool exists = it != rows_.end();
    switch (m.kind) {
      case Kind::kPut:
        if (m.offline) Emit(m.group_id, m.api_invocation_time_micros, false, m.record);
        if (exists && m.event_time_micros < it->second.event_time) return Outcome::kHistoric;
        rows_[key] =
            ModelRow{false, m.event_time_micros, m.expires_at_micros, payload, m.expiry_marker};
        return Outcome::kApplied;
      case Kind::kSoftDelete:
        if (m.offline) Emit(m.group_id, m.api_invocation_time_micros, true, m.record);
        if (exists && m.event_time_micros <= it->second.event_time) return Outcome::kNotNewer;
        rows_[key] = ModelRow{true, m.event_time_micros, std::nullopt, "", ""};
        return Outcome::kApplied;
      case Kind::kHardDelete:
        if (exists && m.event_time_micros <= it->second.event_time) return Outcome::kNotNewer;
        if (exists) rows_.erase(it);
        if (m.offline) Emit(m.group_id, m.api_invocation_time_micros, true, m.record);
        return Outcome::kApplied;
    }
    return Outcome::kApplied;
  }

  size_t Purge(int64_t now) {
    // In TTL index order: expiry time, then group, then identifier.
    std::map<std::tuple<int64_t, uint64_t, std::string>, Key> due;
    for (const auto& [key, row] : rows_) {
      if (!row.tombstone && row.expires_at && *row.expires_at <= now) {
        due.emplace(std::make_tuple(*row.expires_at, key.first, key.second), key);
      }
    }
    for (const auto& [order, key] : due) {
      const ModelRow& row = rows_[key];
      if (!row.expiry_marker.empty()) Emit(key.first, now, true, row.expiry_marker);
      rows_.erase(key);
    }
    return due.size();
  }

  void Drop(uint64_t group) {
    for (auto it = rows_.begin(); it != rows_.end();) {
      it = it->first.first == group ? rows_.erase(it) : std::next(it);
    }
  }

  std::optional<std::string> Visible(uint64_t group, const std::string& id, int64_t now) const {
    auto it = rows_.find({group, id});
    if (it == rows_.end() || it->second.tombstone) return std::nullopt;
    if (it->second.expires_at && *it->second.expires_at <= now) return std::nullopt;
    return it->second.payload;
  }

  std::vector<std::string> Listed(uint64_t group, bool with_deleted, int64_t now) const {
    std::vector<std::string> ids;
    for (const auto& [key, row] : rows_) {
      if (key.first != group) continue;
      if (row.tombstone ? !with_deleted : (row.expires_at && *row.expires_at <= now)) continue;
      ids.push_back(key.second);
    }
    return ids;
  }

  std::vector<ModelEntry>& outbox() { return outbox_; }

 private:
  void Emit(uint64_t group, int64_t api, bool deleted, const std::string& bytes) {
    outbox_.push_back({group, api, deleted, bytes});
  }

  std::map<Key, ModelRow> rows_;
  std::vector<ModelEntry> outbox_;
};

class ReferenceModelTest : public ::testing::TestWithParam<int> {};

TEST_P(ReferenceModelTest, StoreMatchesTheModel) {
  const int seed = GetParam();
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return rng() % n; };
  TempDir dir;
  FakeClock clock(100 * kSec);
  RocksDbStoreOptions options;
  options.path = dir.path() + "/online";
  options.clock = &clock;
  options.purge_interval_micros = 0;
  options.purge_batch = 3;   // exercise chunked purges
  options.lock_stripes = 4;  // and stripe sharing
  options.block_cache_bytes = 1 << 20;
  options.write_buffer_bytes = 256 << 10;
  std::unique_ptr<OnlineStore> store;
  auto open = [&] {
    store.reset();
    auto s = OpenRocksDbStore(options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(s).value();
  };
  open();

  Model model;
  uint64_t trimmed = 0;  // outbox seqs <= trimmed are gone from both
  size_t model_trimmed = 0;
  const std::vector<uint64_t> groups = {1, 2};
  const std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
  constexpr int kSteps = 300;

  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
    const int64_t now = clock.NowMicros();
    const uint64_t op = pick(100);
    if (op < 70) {
      // A batch of 1-3 mutations, possibly on the same row.
      std::vector<Mutation> batch;
      std::vector<std::string> payloads;
      const size_t n = 1 + (pick(4) == 0 ? pick(3) : 0);
      for (size_t k = 0; k < n; ++k) {
        const uint64_t g = groups[pick(groups.size())];
        const std::string& id = ids[pick(ids.size())];
        // Event times from a small window around now, so ties and reorderings are common.
        const int64_t et = now + (static_cast<int64_t>(pick(12)) - 8) * kSec;
        const bool online = pick(10) != 0;
        const bool offline = pick(5) != 0;
        const uint64_t kind = pick(10);
        Mutation m;
        std::string payload = "s" + std::to_string(step) + "k" + std::to_string(k);
        if (kind < 7) {
          std::optional<int64_t> expires;
          if (pick(2) == 0) expires = et + static_cast<int64_t>(1 + pick(15)) * kSec;
          m = Put(g, id, payload, et, expires, online, offline);
          if (expires && pick(4) == 0) m.expiry_marker.clear();  // a group without offline store
        } else {
          m = Delete(kind < 9 ? Kind::kSoftDelete : Kind::kHardDelete, g, id, et, online, offline);
        }
        m.api_invocation_time_micros = step * 10 + static_cast<int64_t>(k);
        batch.push_back(std::move(m));
        payloads.push_back(payload);
      }
      std::vector<Outcome> got;
      ASSERT_TRUE(store->Write(batch, &got).ok());
      for (size_t k = 0; k < batch.size(); ++k) {
        EXPECT_EQ(got[k], model.Apply(batch[k], payloads[k], now)) << "mutation " << k;
      }
    } else if (op < 82) {
      clock.AdvanceMicros(static_cast<int64_t>(pick(4)) * kSec + static_cast<int64_t>(pick(2)));
    } else if (op < 90) {
      StatusOr<size_t> n = store->PurgeExpired(1000);
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(*n, model.Purge(now));
    } else if (op < 94) {
      // Trim what has been read so far.
      auto entries = store->outbox()->Read(trimmed, 1'000'000);
      ASSERT_TRUE(entries.ok());
      if (!entries->empty()) {
        uint64_t up_to = entries->back().seq;
        if (pick(2) == 0) up_to = (*entries)[pick(entries->size())].seq;
        ASSERT_TRUE(store->outbox()->Trim(up_to).ok());
        model_trimmed += static_cast<size_t>(up_to - trimmed);
        trimmed = up_to;
      }
    } else if (op < 97) {
      open();  // reopen: everything acknowledged must still be there
    } else if (op < 98) {
      const uint64_t g = groups[pick(groups.size())];
      ASSERT_TRUE(store->DropGroup(g).ok());
      model.Drop(g);
    }

    // Compare every row, both listings and the whole outbox.
    const int64_t t = clock.NowMicros();
    for (uint64_t g : groups) {
      for (const std::string& id : ids) {
        std::optional<std::string> got;
        StatusOr<bool> found =
            store->Get(g, id, [&](const StoredRecord& r) { got = Payload(r.record); });
        ASSERT_TRUE(found.ok());
        ASSERT_EQ(got, model.Visible(g, id, t)) << "group " << g << " id " << id;
      }
      for (bool with_deleted : {false, true}) {
        ListOptions lo;
        lo.include_soft_deleted = with_deleted;
        lo.max_results = 1000;
        auto page = store->List(g, lo);
        ASSERT_TRUE(page.ok());
        ASSERT_EQ(page->identifiers, model.Listed(g, with_deleted, t));
      }
    }
    auto entries = store->outbox()->Read(trimmed, 1'000'000);
    ASSERT_TRUE(entries.ok());
    const std::vector<ModelEntry>& want = model.outbox();
    ASSERT_EQ(entries->size(), want.size() - model_trimmed);
    for (size_t k = 0; k < entries->size(); ++k) {
      const OutboxEntry& e = (*entries)[k];
      const ModelEntry& w = want[model_trimmed + k];
      ASSERT_EQ(e.seq, model_trimmed + k + 1);
      ASSERT_EQ(e.group_id, w.group_id);
      ASSERT_EQ(e.is_deleted, w.is_deleted);
      ASSERT_EQ(e.api_invocation_time_micros, w.api_time);
      ASSERT_EQ(e.record, w.bytes);
    }
    ASSERT_EQ(store->outbox()->LastSeq(), want.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReferenceModelTest, ::testing::Range(1, 41));

}  // namespace
}  // namespace larder::online
