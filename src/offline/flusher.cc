#include "offline/flusher.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include "common/status_macros.h"

namespace larder::offline {
namespace {

constexpr std::string_view kTmpSuffix = ".tmp";
constexpr std::string_view kIntentSuffix = ".intent";
constexpr std::string_view kParquetSuffix = ".parquet";
constexpr std::string_view kMetadataColumns =
    "\"api_invocation_time\" TIMESTAMPTZ, \"write_time\" TIMESTAMPTZ, \"is_deleted\" BOOLEAN";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string DirOf(const std::string& path) { return path.substr(0, path.find_last_of('/')); }
std::string BaseOf(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }
std::string TmpPathFor(const std::string& final_path) {
  return DirOf(final_path) + "/." + BaseOf(final_path) + std::string(kTmpSuffix);
}

std::string SqlType(const catalog::FeatureDefinition& f) {
  std::string_view scalar = "VARCHAR";
  if (f.type == catalog::FeatureType::kIntegral) scalar = "BIGINT";
  if (f.type == catalog::FeatureType::kFractional) scalar = "DOUBLE";
  if (f.collection == catalog::CollectionType::kNone) return std::string(scalar);
  return std::string(scalar) + "[]";
}

StatusOr<Datum> ScalarDatum(const catalog::FeatureGroup& g, const catalog::FeatureDefinition& f,
                            std::string_view text) {
  switch (f.type) {
    case catalog::FeatureType::kString:
      return Datum::Text(std::string(text));
    case catalog::FeatureType::kIntegral: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) return Datum::Int(v);
      break;
    }
    case catalog::FeatureType::kFractional: {
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) return Datum::Double(v);
      break;
    }
  }
  return Status::Corruption(
      fmt::format("offline flush: feature '{}' of feature group '{}' holds \"{}\", which is not {}",
                  f.name, g.name, text, catalog::FeatureTypeName(f.type)));
}

// The Parquet row of one outbox entry: the features in definition order, then
// api_invocation_time, write_time and is_deleted.
StatusOr<std::vector<Datum>> BuildRow(const catalog::FeatureGroup& g, const catalog::Record& record,
                                      const online::OutboxEntry& e, int64_t write_time_micros) {
  std::vector<Datum> row;
  row.reserve(g.features.size() + 3);
  for (size_t i = 0; i < g.features.size(); ++i) {
    const catalog::FeatureDefinition& f = g.features[i];
    if (i >= record.values.size() || record.values[i].kind == catalog::Value::Kind::kNull) {
      row.push_back(Datum::Null());
      continue;
    }
    const catalog::Value& v = record.values[i];
    if (v.kind == catalog::Value::Kind::kScalar) {
      ASSIGN_OR_RETURN(Datum d, ScalarDatum(g, f, v.scalar));
      if (f.collection != catalog::CollectionType::kNone) {
        return Status::Corruption(fmt::format(
            "offline flush: collection feature '{}' of feature group '{}' holds a scalar", f.name,
            g.name));
      }
      row.push_back(std::move(d));
      continue;
    }
    if (f.collection == catalog::CollectionType::kNone) {
      return Status::Corruption(fmt::format(
          "offline flush: scalar feature '{}' of feature group '{}' holds a list", f.name, g.name));
    }
    std::vector<Datum> elements;
    elements.reserve(v.list.size());
    for (const std::string& item : v.list) {
      ASSIGN_OR_RETURN(Datum d, ScalarDatum(g, f, item));
      elements.push_back(std::move(d));
    }
    row.push_back(Datum::List(std::move(elements)));
  }
  row.push_back(Datum::Int(e.api_invocation_time_micros));
  row.push_back(Datum::Int(write_time_micros));
  row.push_back(Datum::Bool(e.is_deleted));
  return row;
}

std::string ToJson(const rapidjson::Document& doc) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// A path inside the offline directory named by an intent: relative, no "..", no empty segment.
StatusOr<std::string> ResolveIntentPath(const OfflineLayout& layout, const rapidjson::Value& v,
                                        const std::string& intent) {
  if (!v.IsString())
    return Status::Corruption(fmt::format("intent '{}': a path is not a string", intent));
  std::string_view rel(v.GetString(), v.GetStringLength());
  bool bad = rel.empty() || rel.front() == '/';
  size_t start = 0;
  while (!bad && start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view seg = rel.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") bad = true;
    start = end + 1;
  }
  if (bad)
    return Status::Corruption(
        fmt::format("intent '{}': path '{}' leaves the offline store", intent, rel));
  return layout.OfflineDir() + "/" + std::string(rel);
}

std::string RelativeTo(const std::string& base, const std::string& path) {
  return path.substr(base.size() + 1);
}

}  // namespace

struct Flusher::GroupBatch {
  catalog::GroupPtr group;
  std::string root;
  // partition -> rows, and the latest event time in it
  std::map<std::string, std::vector<std::vector<Datum>>> rows;
  std::map<std::string, int64_t> latest_event;
};

Flusher::Flusher(const FlusherOptions& options, online::OutboxReader* outbox,
                 const catalog::CatalogReader* catalog)
    : options_(options),
      layout_(options.data_dir, options.account_id, options.region),
      env_(options.env != nullptr ? options.env : Env::Posix()),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      outbox_(outbox),
      catalog_(catalog),
      rng_(options.random_seed != 0 ? options.random_seed : std::random_device{}()) {}

StatusOr<std::unique_ptr<Flusher>> Flusher::Open(const FlusherOptions& options,
                                                 online::OutboxReader* outbox,
                                                 const catalog::CatalogReader* catalog) {
  std::unique_ptr<Flusher> f(new Flusher(options, outbox, catalog));
  RETURN_IF_ERROR(f->layout_.Validate());
  RETURN_IF_ERROR(f->Recover());
  RETURN_IF_ERROR(f->LoadManifest());
  return f;
}

Status Flusher::EnsureConnection() {
  if (conn_ != nullptr) return Status::OK();
  DatabaseOptions db_options;
  db_options.memory_limit_bytes = options_.memory_limit_bytes;
  db_options.threads = 2;
  ASSIGN_OR_RETURN(db_, Database::Open(db_options));
  ASSIGN_OR_RETURN(conn_, db_->Connect());
  return Status::OK();
}

Flusher::~Flusher() {
  Status s = Stop();
  if (!s.ok()) spdlog::error("offline flusher: stop: {}", s.ToString());
}

std::string Flusher::RandomSuffix() {
  static constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(16, 'a');
  for (char& c : s) c = kAlnum[rng_() % (sizeof(kAlnum) - 1)];
  return s;
}

// ---- Recovery ----

Status Flusher::Recover() {
  const std::string intent_dir = layout_.IntentDir();
  RETURN_IF_ERROR(env_->CreateDirs(intent_dir));
  ASSIGN_OR_RETURN(auto entries, env_->ListDir(intent_dir));
  std::vector<std::string> intents;
  for (const DirEntry& e : entries) {
    if (EndsWith(e.name, kTmpSuffix)) {
      // An intent that never reached its commit point: its transaction did not happen.
      RETURN_IF_ERROR(env_->DeleteFile(intent_dir + "/" + e.name));
    } else if (EndsWith(e.name, kIntentSuffix)) {
      intents.push_back(e.name);
    }
  }
  // Flush intents sort by their zero-padded seq, and all before compaction intents.
  std::sort(intents.begin(), intents.end(), [](const std::string& a, const std::string& b) {
    bool fa = a.rfind("flush-", 0) == 0, fb = b.rfind("flush-", 0) == 0;
    if (fa != fb) return fa;
    return a < b;
  });
  for (const std::string& name : intents) {
    const std::string path = intent_dir + "/" + name;
    ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("kind") ||
        !doc["kind"].IsString()) {
      return Status::Corruption(fmt::format("offline recovery: intent '{}' does not parse", path));
    }
    std::string kind = doc["kind"].GetString();
    std::set<std::string> dirs;
    if (kind == "flush") {
      if (!doc.HasMember("up_to_seq") || !doc["up_to_seq"].IsUint64() || !doc.HasMember("files") ||
          !doc["files"].IsArray()) {
        return Status::Corruption(
            fmt::format("offline recovery: flush intent '{}' is incomplete", path));
      }
      for (const auto& f : doc["files"].GetArray()) {
        if (!f.IsObject() || !f.HasMember("tmp") || !f.HasMember("final")) {
          return Status::Corruption(
              fmt::format("offline recovery: flush intent '{}' is incomplete", path));
        }
        ASSIGN_OR_RETURN(std::string tmp, ResolveIntentPath(layout_, f["tmp"], path));
        ASSIGN_OR_RETURN(std::string final_path, ResolveIntentPath(layout_, f["final"], path));
        // A missing tmp was renamed before the crash (and may since have been compacted away).
        if (env_->FileExists(tmp)) RETURN_IF_ERROR(env_->Rename(tmp, final_path));
        dirs.insert(DirOf(final_path));
      }
      for (const std::string& d : dirs) {
        if (env_->FileExists(d)) RETURN_IF_ERROR(env_->SyncDir(d));
      }
      uint64_t up_to = doc["up_to_seq"].GetUint64();
      RETURN_IF_ERROR(outbox_->Trim(up_to).WithPrefix("offline recovery: outbox trim"));
      spdlog::info("offline recovery: finished flush up to seq {} ({} files)", up_to,
                   doc["files"].Size());
    } else if (kind == "compact") {
      if (!doc.HasMember("tmp") || !doc.HasMember("final") || !doc.HasMember("inputs") ||
          !doc["inputs"].IsArray()) {
        return Status::Corruption(
            fmt::format("offline recovery: compaction intent '{}' is incomplete", path));
      }
      ASSIGN_OR_RETURN(std::string tmp, ResolveIntentPath(layout_, doc["tmp"], path));
      ASSIGN_OR_RETURN(std::string final_path, ResolveIntentPath(layout_, doc["final"], path));
      if (env_->FileExists(tmp)) RETURN_IF_ERROR(env_->Rename(tmp, final_path));
      dirs.insert(DirOf(final_path));
      for (const auto& in : doc["inputs"].GetArray()) {
        ASSIGN_OR_RETURN(std::string input, ResolveIntentPath(layout_, in, path));
        RETURN_IF_ERROR(env_->DeleteFile(input));
        dirs.insert(DirOf(input));
      }
      for (const std::string& d : dirs) {
        if (env_->FileExists(d)) RETURN_IF_ERROR(env_->SyncDir(d));
      }
      spdlog::info("offline recovery: finished compaction into {}", final_path);
    } else {
      return Status::Corruption(
          fmt::format("offline recovery: intent '{}' has unknown kind '{}'", path, kind));
    }
    RETURN_IF_ERROR(env_->DeleteFile(path));
    RETURN_IF_ERROR(env_->SyncDir(intent_dir));
  }
  return Status::OK();
}

Status Flusher::LoadManifest() {
  const std::string store = layout_.StoreDir();
  if (!env_->FileExists(store)) return Status::OK();
  ASSIGN_OR_RETURN(auto roots, env_->ListDir(store));
  FileManifest::FileList files;
  std::set<std::string> touched_dirs;
  // <root>/data/year=/month=/day=/hour=/<file>
  for (const DirEntry& root : roots) {
    if (!root.is_dir) continue;
    std::string data = store + "/" + root.name + "/data";
    if (!env_->FileExists(data)) continue;
    std::vector<std::pair<std::string, std::string>> level = {{data, ""}};
    for (int depth = 0; depth < 4; ++depth) {
      std::vector<std::pair<std::string, std::string>> next;
      for (const auto& [dir, rel] : level) {
        ASSIGN_OR_RETURN(auto children, env_->ListDir(dir));
        for (const DirEntry& c : children) {
          if (c.is_dir)
            next.emplace_back(dir + "/" + c.name, rel.empty() ? c.name : rel + "/" + c.name);
        }
      }
      level = std::move(next);
    }
    for (const auto& [dir, partition] : level) {
      ASSIGN_OR_RETURN(auto children, env_->ListDir(dir));
      std::vector<std::string> names;
      for (const DirEntry& c : children) {
        if (c.is_dir) continue;
        if (c.name.front() == '.' && EndsWith(c.name, kTmpSuffix)) {
          // A tmp file no intent claimed: its rows are still in the outbox.
          RETURN_IF_ERROR(env_->DeleteFile(dir + "/" + c.name));
          touched_dirs.insert(dir);
          continue;
        }
        if (EndsWith(c.name, kParquetSuffix) && c.name.front() != '.') names.push_back(c.name);
      }
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) {
        std::string path = dir + "/" + n;
        ASSIGN_OR_RETURN(uint64_t size, env_->FileSize(path));
        files.push_back(OfflineFile{root.name, partition, path, size});
      }
    }
  }
  for (const std::string& d : touched_dirs) RETURN_IF_ERROR(env_->SyncDir(d));
  manifest_.Add(files);
  return Status::OK();
}

// ---- Busy token and the background thread ----

bool Flusher::AcquireBusy(int64_t deadline_micros) {
  MutexLock l(&mu_);
  while (busy_) {
    if (deadline_micros == 0) {
      cv_.wait(mu_);
      continue;
    }
    int64_t left = deadline_micros - clock_->NowMicros();
    if (left <= 0) return false;
    cv_.wait_for(mu_, std::chrono::microseconds(left));
  }
  busy_ = true;
  return true;
}

void Flusher::ReleaseBusy() {
  {
    MutexLock l(&mu_);
    busy_ = false;
  }
  cv_.notify_all();
}

void Flusher::Start() {
  MutexLock l(&mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { Run(); });
}

void Flusher::Run() {
  const auto tick =
      std::chrono::milliseconds(std::clamp<int64_t>(options_.flush_interval_ms / 4, 5, 100));
  int64_t last_flush = clock_->NowMicros();
  int64_t backoff_until = 0;
  while (true) {
    {
      MutexLock l(&mu_);
      if (stopping_) return;
      cv_.wait_for(mu_, tick);
      if (stopping_) return;
    }
    int64_t now = clock_->NowMicros();
    if (now < backoff_until) continue;
    uint64_t waiting = outbox_->ApproximateCount();
    bool due = waiting >= options_.flush_rows ||
               (waiting > 0 && now - last_flush >= options_.flush_interval_ms * 1000);
    Status s;
    if (due) {
      s = Sync();
      last_flush = now;
    } else {
      if (options_.compaction &&
          now - last_compaction_micros_ >= options_.compaction_interval_ms * 1000) {
        s = CompactOnce();
      }
      if (s.ok()) s = CollectGarbage();
    }
    if (!s.ok()) {
      spdlog::error("offline flusher: {}", s.ToString());
      backoff_until = clock_->NowMicros() + 1'000'000;
    }
  }
}

Status Flusher::Sync(int64_t deadline_micros) {
  uint64_t target = outbox_->LastSeq();
  {
    MutexLock l(&mu_);
    if (!fatal_.ok()) return fatal_;
    if (stats_.flushed_seq >= target) return Status::OK();
  }
  if (!AcquireBusy(deadline_micros)) {
    return Status::DeadlineExceeded(
        "offline store: timed out waiting for the flush of recent writes to finish");
  }
  Status s;
  {
    MutexLock l(&mu_);
    s = fatal_;
  }
  if (s.ok()) s = FlushUpTo(target);
  ReleaseBusy();
  return s;
}

Status Flusher::Stop() {
  std::thread t;
  {
    MutexLock l(&mu_);
    if (stopped_) return Status::OK();
    stopping_ = true;
    stopped_ = true;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
  Status s = Sync();
  Status g = CollectGarbage();
  return s.ok() ? g : s;
}

FlusherStats Flusher::stats() const {
  MutexLock l(&mu_);
  return stats_;
}

// ---- Flushing ----

Status Flusher::FlushUpTo(uint64_t target) {
  uint64_t done;
  {
    MutexLock l(&mu_);
    done = stats_.flushed_seq;
  }
  while (done < target) {
    // Every seq <= readable is committed or abandoned, so a Read after this sees every entry
    // up to it that remains. Read it first: it only grows.
    const uint64_t readable = outbox_->ReadableSeq();
    ASSIGN_OR_RETURN(auto batch, outbox_->Read(done, options_.max_batch_entries));
    if (batch.empty()) {
      if (readable < target) {
        // A write below `target` is still committing (seqs are numbered before commit, and a
        // later one finished first). Skipping ahead would lose its entries for good: wait for
        // it, it finishes in moments.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      done = std::max(done, readable);  // nothing remains at or below `readable`
    } else {
      RETURN_IF_ERROR(FlushBatch(batch));
      done = batch.back().seq;
    }
    MutexLock l(&mu_);
    stats_.flushed_seq = std::max(stats_.flushed_seq, done);
  }
  return Status::OK();
}

Status Flusher::FlushBatch(const std::vector<online::OutboxEntry>& batch) {
  const uint64_t up_to = batch.back().seq;
  const int64_t write_time = clock_->NowMicros();
  std::map<uint64_t, GroupBatch> groups;
  uint64_t skipped = 0;
  size_t rows_total = 0;
  for (const online::OutboxEntry& e : batch) {
    auto it = groups.find(e.group_id);
    if (it == groups.end()) {
      auto group = catalog_->GetById(e.group_id);
      if (!group.ok()) {
        if (group.status().code() != StatusCode::kNotFound) return group.status();
        spdlog::error("offline flush: outbox entry {} names unknown feature group id {}; skipped",
                      e.seq, e.group_id);
        ++skipped;
        continue;
      }
      GroupBatch gb;
      gb.group = *group;
      if (gb.group->offline_enabled) {
        ASSIGN_OR_RETURN(gb.root, OfflineLayout::GroupRoot(*gb.group));
      }
      it = groups.emplace(e.group_id, std::move(gb)).first;
    }
    GroupBatch& gb = it->second;
    if (!gb.group->offline_enabled) {
      ++skipped;
      continue;
    }
    auto record = catalog::DecodeRecord(e.record);
    if (!record.ok()) {
      return record.status().WithPrefix(fmt::format(
          "offline flush: outbox entry {} of feature group '{}'", e.seq, gb.group->name));
    }
    ASSIGN_OR_RETURN(auto row, BuildRow(*gb.group, *record, e, write_time));
    std::string partition = OfflineLayout::Partition(record->event_time_micros);
    gb.rows[partition].push_back(std::move(row));
    auto [lt, inserted] = gb.latest_event.try_emplace(partition, record->event_time_micros);
    if (!inserted) lt->second = std::max(lt->second, record->event_time_micros);
    ++rows_total;
  }

  // 1. Tmp files, fsynced.
  struct Planned {
    OfflineFile file;
    std::string tmp;
  };
  std::vector<Planned> planned;
  auto discard = [&] {
    for (const Planned& p : planned) {
      Status s = env_->DeleteFile(p.tmp);
      if (!s.ok()) spdlog::warn("offline flush: cleanup: {}", s.ToString());
    }
  };
  for (auto& [id, gb] : groups) {
    for (auto& [partition, rows] : gb.rows) {
      std::string dir = layout_.DataDir(gb.root) + "/" + partition;
      std::string final_path;
      do {
        final_path =
            dir + "/" + OfflineLayout::FileName(gb.latest_event[partition], RandomSuffix());
      } while (env_->FileExists(final_path));
      Planned p{OfflineFile{gb.root, partition, final_path, 0}, TmpPathFor(final_path)};
      Status s = env_->CreateDirs(dir);
      if (s.ok()) {
        planned.push_back(p);
        s = WriteParquet(*gb.group, rows, p.tmp);
      }
      if (s.ok()) s = env_->SyncFile(p.tmp);
      if (s.ok()) {
        auto size = env_->FileSize(p.tmp);
        s = size.status();
        if (size.ok()) planned.back().file.size_bytes = *size;
      }
      if (!s.ok()) {
        discard();
        return s;
      }
    }
  }

  if (planned.empty()) {
    // Nothing to write (entries of groups without an offline store): just trim.
    RETURN_IF_ERROR(outbox_->Trim(up_to));
    MutexLock l(&mu_);
    stats_.skipped_entries += skipped;
    return Status::OK();
  }

  // 2. The intent: the commit point.
  const std::string base = layout_.OfflineDir();
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  doc.AddMember("kind", "flush", alloc);
  doc.AddMember("up_to_seq", rapidjson::Value(up_to), alloc);
  rapidjson::Value files(rapidjson::kArrayType);
  for (const Planned& p : planned) {
    rapidjson::Value f(rapidjson::kObjectType);
    f.AddMember("tmp", rapidjson::Value(RelativeTo(base, p.tmp).c_str(), alloc), alloc);
    f.AddMember("final", rapidjson::Value(RelativeTo(base, p.file.path).c_str(), alloc), alloc);
    files.PushBack(f, alloc);
  }
  doc.AddMember("files", files, alloc);
  const std::string intent =
      fmt::format("{}/flush-{:020d}{}", layout_.IntentDir(), up_to, kIntentSuffix);
  Status s = WriteIntent(intent, ToJson(doc));
  if (!s.ok()) {
    discard();
    return s;
  }

  // 3-4. Past the commit point every failure leaves work only recovery may finish.
  auto after_commit = [&]() -> Status {
    std::set<std::string> dirs;
    for (const Planned& p : planned) {
      RETURN_IF_ERROR(env_->Rename(p.tmp, p.file.path));
      dirs.insert(DirOf(p.file.path));
    }
    for (const std::string& d : dirs) RETURN_IF_ERROR(env_->SyncDir(d));
    FileManifest::FileList visible;
    for (const Planned& p : planned) visible.push_back(p.file);
    manifest_.Add(visible);
    RETURN_IF_ERROR(outbox_->Trim(up_to).WithPrefix("offline flush: outbox trim"));
    RETURN_IF_ERROR(env_->DeleteFile(intent));
    return env_->SyncDir(layout_.IntentDir());
  };
  s = after_commit();
  MutexLock l(&mu_);
  if (!s.ok()) {
    fatal_ = Status::IOError(fmt::format(
        "offline store stopped after a failed flush (restart the server to recover): {}",
        s.message()));
    return fatal_;
  }
  stats_.flushes++;
  stats_.files_written += planned.size();
  stats_.rows_written += rows_total;
  stats_.skipped_entries += skipped;
  return Status::OK();
}

Status Flusher::WriteParquet(const catalog::FeatureGroup& group,
                             const std::vector<std::vector<Datum>>& rows, const std::string& path) {
  RETURN_IF_ERROR(EnsureConnection());
  std::string ddl = "CREATE OR REPLACE TEMP TABLE larder_stage (";
  for (const catalog::FeatureDefinition& f : group.features) {
    ddl += QuoteIdentifier(f.name) + " " + SqlType(f) + ", ";
  }
  ddl += std::string(kMetadataColumns) + ")";
  RETURN_IF_ERROR(conn_->Execute(ddl));
  {
    ASSIGN_OR_RETURN(auto appender, conn_->CreateAppender("", "larder_stage"));
    for (const auto& row : rows) RETURN_IF_ERROR(appender->AppendRow(row));
    RETURN_IF_ERROR(appender->Close());
  }
  RETURN_IF_ERROR(env_->CrashPoint("before parquet " + path));
  Status s = conn_->Execute("COPY larder_stage TO " + QuoteLiteral(path) +
                            " (FORMAT parquet, COMPRESSION zstd, USE_TMP_FILE false)");
  Status dropped = conn_->Execute("DROP TABLE larder_stage");
  RETURN_IF_ERROR(s.WithPrefix("offline flush: writing " + path));
  RETURN_IF_ERROR(dropped);
  return env_->CrashPoint("after parquet " + path);
}

Status Flusher::WriteIntent(const std::string& path, const std::string& json) {
  const std::string tmp = path + std::string(kTmpSuffix);
  RETURN_IF_ERROR(env_->WriteFile(tmp, json));
  RETURN_IF_ERROR(env_->SyncFile(tmp));
  RETURN_IF_ERROR(env_->Rename(tmp, path));
  return env_->SyncDir(DirOf(path));
}

// ---- Compaction ----

Status Flusher::CompactOnce() {
  AcquireBusy(0);
  Status s;
  {
    MutexLock l(&mu_);
    s = fatal_;
  }
  if (s.ok()) s = CompactLocked();
  if (s.ok()) s = CollectGarbageLocked();
  last_compaction_micros_ = clock_->NowMicros();
  ReleaseBusy();
  return s;
}

Status Flusher::CompactLocked() {
  auto version = manifest_.Current();
  // The partition with the most small files, if it has enough.
  const FileManifest::FileList* best_list = nullptr;
  std::string best_root, best_partition;
  size_t best_count = 0;
  for (const auto& [root, list] : version->by_root) {
    std::map<std::string, size_t> small;
    for (const OfflineFile& f : *list) {
      if (f.size_bytes < options_.compaction_small_file_bytes) ++small[f.partition];
    }
    for (const auto& [partition, n] : small) {
      if (n >= std::max<size_t>(options_.compaction_min_files, 2) && n > best_count) {
        best_count = n;
        best_root = root;
        best_partition = partition;
        best_list = list.get();
      }
    }
  }
  if (best_list == nullptr) return Status::OK();

  FileManifest::FileList inputs;
  uint64_t bytes = 0;
  std::string stamp;
  for (const OfflineFile& f : *best_list) {
    if (f.partition != best_partition || f.size_bytes >= options_.compaction_small_file_bytes)
      continue;
    if (inputs.size() >= 2 && bytes + f.size_bytes > options_.compaction_max_input_bytes) break;
    inputs.push_back(f);
    bytes += f.size_bytes;
    stamp = std::max(stamp, std::string(OfflineLayout::FileStamp(BaseOf(f.path))));
  }
  if (inputs.size() < 2) return Status::OK();

  const std::string dir = DirOf(inputs.front().path);
  if (stamp.empty()) stamp = "00000000T000000Z";
  std::string final_path;
  do {
    final_path = dir + "/" + stamp + "_" + RandomSuffix() + std::string(kParquetSuffix);
  } while (env_->FileExists(final_path));
  const std::string tmp = TmpPathFor(final_path);

  std::string list = "[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0) list += ", ";
    list += QuoteLiteral(inputs[i].path);
  }
  list += "]";
  const std::string source =
      "read_parquet(" + list + ", union_by_name = true, hive_partitioning = false)";
  auto discard = [&] {
    Status d = env_->DeleteFile(tmp);
    if (!d.ok()) spdlog::warn("offline compaction: cleanup: {}", d.ToString());
  };
  RETURN_IF_ERROR(env_->CrashPoint("before compaction " + tmp));
  RETURN_IF_ERROR(EnsureConnection());
  Status s = conn_->Execute(
      "COPY (SELECT * EXCLUDE (api_invocation_time, write_time, is_deleted), api_invocation_time, "
      "write_time, is_deleted FROM " +
      source + ") TO " + QuoteLiteral(tmp) +
      " (FORMAT parquet, COMPRESSION zstd, USE_TMP_FILE false)");
  if (s.ok()) s = env_->CrashPoint("after compaction " + tmp);
  // The merged file must hold exactly the inputs' rows before it may replace them.
  if (s.ok()) {
    auto counts = conn_->Query("SELECT (SELECT count(*) FROM " + source +
                               "), (SELECT count(*) FROM read_parquet(" + QuoteLiteral(tmp) + "))");
    s = counts.status();
    if (s.ok()) {
      Chunk chunk;
      auto more = (*counts)->Next(&chunk);
      s = more.status();
      if (s.ok() && (!*more || chunk.rows.size() != 1 ||
                     chunk.rows[0][0].int_value != chunk.rows[0][1].int_value)) {
        s = Status::Internal("offline compaction: merged file " + tmp +
                             " does not hold its inputs' rows");
      }
    }
  }
  if (s.ok()) s = env_->SyncFile(tmp);
  StatusOr<uint64_t> size = s.ok() ? env_->FileSize(tmp) : StatusOr<uint64_t>(s);
  if (!size.ok()) {
    discard();
    return size.status();
  }

  const std::string base = layout_.OfflineDir();
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  doc.AddMember("kind", "compact", alloc);
  doc.AddMember("tmp", rapidjson::Value(RelativeTo(base, tmp).c_str(), alloc), alloc);
  doc.AddMember("final", rapidjson::Value(RelativeTo(base, final_path).c_str(), alloc), alloc);
  rapidjson::Value in(rapidjson::kArrayType);
  for (const OfflineFile& f : inputs)
    in.PushBack(rapidjson::Value(RelativeTo(base, f.path).c_str(), alloc), alloc);
  doc.AddMember("inputs", in, alloc);
  const std::string intent = fmt::format("{}/compact-{}-{}{}", layout_.IntentDir(),
                                         clock_->NowMicros(), RandomSuffix(), kIntentSuffix);
  s = WriteIntent(intent, ToJson(doc));
  if (!s.ok()) {
    discard();
    return s;
  }
  auto after_commit = [&]() -> Status {
    RETURN_IF_ERROR(env_->Rename(tmp, final_path));
    RETURN_IF_ERROR(env_->SyncDir(dir));
    manifest_.Replace(inputs, {OfflineFile{best_root, best_partition, final_path, *size}});
    std::set<std::string> left;
    for (const OfflineFile& f : inputs) left.insert(f.path);
    pending_compactions_[intent] = std::move(left);
    return Status::OK();
  };
  s = after_commit();
  MutexLock l(&mu_);
  if (!s.ok()) {
    fatal_ = Status::IOError(fmt::format(
        "offline store stopped after a failed compaction (restart the server to recover): {}",
        s.message()));
    return fatal_;
  }
  stats_.compactions++;
  return Status::OK();
}

Status Flusher::CollectGarbage() {
  AcquireBusy(0);
  Status s = CollectGarbageLocked();
  ReleaseBusy();
  return s;
}

Status Flusher::CollectGarbageLocked() {
  FileManifest::FileList deletable = manifest_.TakeDeletable();
  if (deletable.empty()) return Status::OK();
  auto work = [&]() -> Status {
    std::set<std::string> dirs;
    for (const OfflineFile& f : deletable) {
      RETURN_IF_ERROR(env_->DeleteFile(f.path));
      dirs.insert(DirOf(f.path));
    }
    for (const std::string& d : dirs) RETURN_IF_ERROR(env_->SyncDir(d));
    bool intents_deleted = false;
    for (auto it = pending_compactions_.begin(); it != pending_compactions_.end();) {
      for (const OfflineFile& f : deletable) it->second.erase(f.path);
      if (!it->second.empty()) {
        ++it;
        continue;
      }
      RETURN_IF_ERROR(env_->DeleteFile(it->first));
      intents_deleted = true;
      it = pending_compactions_.erase(it);
    }
    if (intents_deleted) RETURN_IF_ERROR(env_->SyncDir(layout_.IntentDir()));
    return Status::OK();
  };
  Status s = work();
  if (!s.ok()) {
    // The intents still on disk make recovery delete these inputs after a restart.
    MutexLock l(&mu_);
    fatal_ =
        Status::IOError(fmt::format("offline store stopped after failing to delete compacted files "
                                    "(restart the server to recover): {}",
                                    s.message()));
    return fatal_;
  }
  return Status::OK();
}

}  // namespace larder::offline
