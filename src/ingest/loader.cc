#include "ingest/loader.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <random>
#include <thread>

#include "common/status_macros.h"
#include "common/thread_annotations.h"

namespace larder::ingest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxBatchEntries = 25;  // BatchWriteRecordEntries max in the runtime model
constexpr size_t kReadBlockBytes = 1 << 20;

std::string_view Str(const rapidjson::Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

// The value of feature `name` in an entry's Record, as the JSON string text it was sent as;
// false when absent.
bool RecordValue(const rapidjson::Value& entry, std::string_view name, std::string_view* value) {
  const rapidjson::Value* record = Member(entry, "Record");
  if (record == nullptr || !record->IsArray()) return false;
  for (const rapidjson::Value& fv : record->GetArray()) {
    const rapidjson::Value* n = Member(fv, "FeatureName");
    const rapidjson::Value* v = Member(fv, "ValueAsString");
    if (n != nullptr && v != nullptr && Str(*n) == name && v->IsString()) {
      *value = Str(*v);
      return true;
    }
  }
  return false;
}

// {"feature": "value" | ["a", "b"], ...} from an entry's Record, for the rejects file.
std::string RecordValuesJson(const rapidjson::Value& entry) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  const rapidjson::Value* record = Member(entry, "Record");
  if (record != nullptr && record->IsArray()) {
    for (const rapidjson::Value& fv : record->GetArray()) {
      const rapidjson::Value* n = Member(fv, "FeatureName");
      if (n == nullptr || !n->IsString()) continue;
      w.Key(n->GetString(), n->GetStringLength());
      if (const rapidjson::Value* v = Member(fv, "ValueAsString"); v != nullptr) {
        v->Accept(w);
      } else if (const rapidjson::Value* l = Member(fv, "ValueAsStringList"); l != nullptr) {
        l->Accept(w);
      } else {
        w.Null();
      }
    }
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

// The rejects file: JSON lines, created on the first reject. Thread-safe.
class RejectsFile {
 public:
  explicit RejectsFile(std::string path) : path_(std::move(path)) {}
  ~RejectsFile() {
    MutexLock l(&mu_);
    if (file_ != nullptr) std::fclose(file_);
  }

  // Appends {"row": row, "reason": reason, "values": values_json}.
  Status Write(int64_t row, std::string_view reason, std::string_view values_json) EXCLUDES(mu_) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("row");
    w.Int64(row);
    w.Key("reason");
    w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
    w.Key("values");
    w.RawValue(values_json.data(), values_json.size(), rapidjson::kObjectType);
    w.EndObject();
    MutexLock l(&mu_);
    if (file_ == nullptr) {
      file_ = std::fopen(path_.c_str(), "w");
      if (file_ == nullptr) {
        return Status::IOError(
            fmt::format("cannot create the rejects file '{}': {}", path_, std::strerror(errno)));
      }
      used_ = true;
    }
    if (std::fwrite(sb.GetString(), 1, sb.GetSize(), file_) != sb.GetSize() ||
        std::fputc('\n', file_) == EOF) {
      return Status::IOError(
          fmt::format("cannot write the rejects file '{}': {}", path_, std::strerror(errno)));
    }
    return Status::OK();
  }

  Status Close() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    if (file_ == nullptr) return Status::OK();
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) {
      return Status::IOError(
          fmt::format("cannot write the rejects file '{}': {}", path_, std::strerror(errno)));
    }
    return Status::OK();
  }

  bool used() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return used_;
  }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  Mutex mu_;
  std::FILE* file_ GUARDED_BY(mu_) = nullptr;
  bool used_ GUARDED_BY(mu_) = false;
};

struct Work {
  int64_t first_row = 0;
  offline::Chunk chunk;
};

}  // namespace

ReplyClass ClassifyReply(int http_status, std::string_view code) {
  if (http_status >= 200 && http_status < 300) return ReplyClass::kOk;
  if (http_status >= 500 || http_status == 429 || code.find("Throttl") != std::string_view::npos ||
      code == "ServiceUnavailable" || code == "InternalFailure") {
    return ReplyClass::kRetry;
  }
  if (http_status == 401 || http_status == 403 || http_status == 404 || code == "AccessForbidden" ||
      code == "ResourceNotFound" || code.find("Signature") != std::string_view::npos ||
      code == "UnrecognizedClientException") {
    return ReplyClass::kFatal;
  }
  return ReplyClass::kReject;
}

struct Loader::Shared {
  explicit Shared(std::string rejects_path) : rejects(std::move(rejects_path)) {}

  // Records the first fatal error and stops the load.
  void Fail(Status s) EXCLUDES(mu) {
    {
      MutexLock l(&mu);
      if (fatal.ok()) fatal = std::move(s);
      stop.store(true);
    }
    not_empty.notify_all();
    not_full.notify_all();
  }

  Mutex mu;
  std::condition_variable_any not_empty;  // queue grew, or input_done/stop was set
  std::condition_variable_any not_full;   // queue shrank, or stop was set
  std::deque<Work> queue GUARDED_BY(mu);
  size_t capacity = 2;
  bool input_done GUARDED_BY(mu) = false;
  Status fatal GUARDED_BY(mu);
  std::atomic<bool> stop{false};
  std::atomic<bool> cancelled{false};
  bool ran = false;  // Run was called (Run's thread only)

  std::atomic<int64_t> rows_read{0};
  std::atomic<int64_t> rows_written{0};
  std::atomic<int64_t> rows_rejected{0};
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> retries{0};
  RejectsFile rejects;
};

// One worker thread: converts rows and keeps up to pipeline_depth requests in flight on its own
// channel. Thread-compatible (owned by its thread).
class Loader::Worker {
 public:
  explicit Worker(Loader* loader)
      : loader_(loader),
        shared_(loader->shared_.get()),
        opts_(loader->options_),
        encoder_(loader->group_, loader->plan_),
        rng_(std::random_device{}()) {}

  void Run();

 private:
  struct Batch {
    std::string body;
    std::vector<EntryRef> entries;
    int attempts = 0;  // sends so far
    Clock::time_point not_before{};
  };

  bool PopChunk();
  bool NextBatch(Batch* b);
  void Reject(int64_t row, std::string_view reason, std::string_view values_json);
  // Queues `b` again after a backoff, or fails the load when it has had max_attempts sends.
  void Requeue(Batch b, const Status& why);
  // Every request in flight was lost with the connection.
  void TransportFailed(const Status& s);
  void Handle(Batch b, const BatchReply& reply);
  void HandleOk(Batch& b, const BatchReply& reply);
  // Index of the not-yet-claimed entry of `b` with the identifier and event time of `entry`.
  int Match(const Batch& b, const rapidjson::Value& entry, const std::vector<char>& claimed);
  Batch Subset(const Batch& b, const std::vector<char>& keep);
  Batch NewBatch();
  void Recycle(Batch b);

  Loader* const loader_;
  Shared* const shared_;
  const LoaderOptions& opts_;
  EntryEncoder encoder_;
  std::mt19937 rng_;
  std::unique_ptr<BatchChannel> channel_;

  Work work_;
  size_t pos_ = 0;
  bool input_exhausted_ = false;
  std::deque<Batch> inflight_;
  std::deque<Batch> retry_;
  std::vector<Batch> free_;
  std::string scratch_;
  std::string row_json_;
};

bool Loader::Worker::PopChunk() {
  if (input_exhausted_) return false;
  MutexLock l(&shared_->mu);
  while (shared_->queue.empty() && !shared_->input_done && !shared_->stop.load()) {
    shared_->not_empty.wait(shared_->mu);
  }
  if (shared_->queue.empty() || shared_->stop.load()) {
    input_exhausted_ = true;
    return false;
  }
  work_ = std::move(shared_->queue.front());
  shared_->queue.pop_front();
  pos_ = 0;
  shared_->not_full.notify_one();
  return true;
}

Loader::Worker::Batch Loader::Worker::NewBatch() {
  if (free_.empty()) return Batch();
  Batch b = std::move(free_.back());
  free_.pop_back();
  b.body.clear();
  b.entries.clear();
  b.attempts = 0;
  b.not_before = {};
  return b;
}

void Loader::Worker::Recycle(Batch b) {
  if (free_.size() < static_cast<size_t>(opts_.pipeline_depth) + 1) free_.push_back(std::move(b));
}

bool Loader::Worker::NextBatch(Batch* b) {
  b->body.assign("{\"Entries\":[");
  while (b->entries.size() < static_cast<size_t>(opts_.batch_size)) {
    if (pos_ >= work_.chunk.rows.size() && !PopChunk()) break;
    const std::vector<offline::Datum>& row = work_.chunk.rows[pos_];
    EntryRef ref;
    ref.row = work_.first_row + static_cast<int64_t>(pos_);
    ++pos_;
    const size_t mark = b->body.size();
    if (!b->entries.empty()) b->body.push_back(',');
    Status s = encoder_.Append(row, &b->body, &ref);
    if (!s.ok()) {
      b->body.resize(mark);
      row_json_.clear();
      encoder_.AppendRowJson(row, &row_json_);
      Reject(ref.row, s.message(), row_json_);
      continue;
    }
    b->entries.push_back(ref);
  }
  if (b->entries.empty()) return false;
  b->body.append("]}");
  return true;
}

void Loader::Worker::Reject(int64_t row, std::string_view reason, std::string_view values_json) {
  Status s = shared_->rejects.Write(row, reason, values_json);
  if (!s.ok()) {
    shared_->Fail(std::move(s));
    return;
  }
  shared_->rows_rejected.fetch_add(1, std::memory_order_relaxed);
}

void Loader::Worker::Requeue(Batch b, const Status& why) {
  if (shared_->stop.load()) return;  // stopping: these rows stay unconfirmed
  if (b.attempts >= opts_.max_attempts) {
    shared_->Fail(Status(why.code(), fmt::format("gave up on rows {}..{} after {} attempts: {}",
                                                 b.entries.front().row, b.entries.back().row,
                                                 b.attempts, why.message())));
    return;
  }
  const int64_t cap =
      std::min<int64_t>(opts_.retry_max_ms, opts_.retry_base_ms << std::min(b.attempts, 20));
  std::uniform_int_distribution<int64_t> jitter(cap / 2, std::max<int64_t>(cap, 1));
  b.not_before = Clock::now() + std::chrono::milliseconds(jitter(rng_));
  shared_->retries.fetch_add(static_cast<int64_t>(b.entries.size()), std::memory_order_relaxed);
  retry_.push_back(std::move(b));
}

void Loader::Worker::TransportFailed(const Status& s) {
  while (!inflight_.empty()) {
    Batch b = std::move(inflight_.front());
    inflight_.pop_front();
    Requeue(std::move(b), s);
  }
}

int Loader::Worker::Match(const Batch& b, const rapidjson::Value& entry,
                          const std::vector<char>& claimed) {
  std::string_view id, et;
  if (!RecordValue(entry, loader_->group_.record_identifier_name, &id) ||
      !RecordValue(entry, loader_->group_.event_time_feature_name, &et)) {
    return -1;
  }
  std::string id_json, et_json;
  encoder_.AppendJsonString(id, &id_json);
  encoder_.AppendJsonString(et, &et_json);
  const std::string_view body = b.body;
  for (size_t i = 0; i < b.entries.size(); ++i) {
    const EntryRef& r = b.entries[i];
    if (claimed[i] != 0) continue;
    if (body.substr(r.id_begin, r.id_end - r.id_begin) == id_json &&
        body.substr(r.et_begin, r.et_end - r.et_begin) == et_json) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

Loader::Worker::Batch Loader::Worker::Subset(const Batch& b, const std::vector<char>& keep) {
  Batch out = NewBatch();
  out.attempts = b.attempts;
  out.body.assign("{\"Entries\":[");
  for (size_t i = 0; i < b.entries.size(); ++i) {
    if (keep[i] == 0) continue;
    if (!out.entries.empty()) out.body.push_back(',');
    const EntryRef& r = b.entries[i];
    const int64_t shift = static_cast<int64_t>(out.body.size()) - r.begin;
    out.body.append(b.body, r.begin, r.end - r.begin);
    EntryRef n = r;
    n.begin = static_cast<uint32_t>(r.begin + shift);
    n.end = static_cast<uint32_t>(r.end + shift);
    n.id_begin = static_cast<uint32_t>(r.id_begin + shift);
    n.id_end = static_cast<uint32_t>(r.id_end + shift);
    n.et_begin = static_cast<uint32_t>(r.et_begin + shift);
    n.et_end = static_cast<uint32_t>(r.et_end + shift);
    out.entries.push_back(n);
  }
  out.body.append("]}");
  return out;
}

void Loader::Worker::HandleOk(Batch& b, const BatchReply& reply) {
  rapidjson::Document doc;
  doc.Parse(reply.body.data(), reply.body.size());
  const rapidjson::Value* errors = doc.HasParseError() ? nullptr : Member(doc, "Errors");
  const rapidjson::Value* unprocessed =
      doc.HasParseError() ? nullptr : Member(doc, "UnprocessedEntries");
  if (errors == nullptr || !errors->IsArray() || unprocessed == nullptr ||
      !unprocessed->IsArray()) {
    shared_->Fail(Status::Internal(
        fmt::format("BatchWriteRecord replied 200 without Errors and UnprocessedEntries lists: {}",
                    reply.body.substr(0, 300))));
    return;
  }
  if (errors->Empty() && unprocessed->Empty()) {
    shared_->rows_written.fetch_add(static_cast<int64_t>(b.entries.size()),
                                    std::memory_order_relaxed);
    return;
  }
  // 0 = written, 1 = rejected, 2 = to retry.
  std::vector<char> state(b.entries.size(), 0);
  for (const rapidjson::Value& e : errors->GetArray()) {
    const rapidjson::Value* entry = Member(e, "Entry");
    const int i = entry == nullptr ? -1 : Match(b, *entry, state);
    if (i < 0) {
      shared_->Fail(
          Status::Internal("BatchWriteRecord listed an error for an entry that was not "
                           "in the request"));
      return;
    }
    state[static_cast<size_t>(i)] = 1;
    const rapidjson::Value* code = Member(e, "ErrorCode");
    const rapidjson::Value* message = Member(e, "ErrorMessage");
    const std::string reason = fmt::format("{}: {}", code != nullptr ? Str(*code) : "Error",
                                           message != nullptr ? Str(*message) : "");
    Reject(b.entries[static_cast<size_t>(i)].row, reason, RecordValuesJson(*entry));
  }
  for (const rapidjson::Value& u : unprocessed->GetArray()) {
    const int i = Match(b, u, state);
    if (i < 0) {
      shared_->Fail(
          Status::Internal("BatchWriteRecord listed an unprocessed entry that was not "
                           "in the request"));
      return;
    }
    state[static_cast<size_t>(i)] = 2;
  }
  int64_t written = 0;
  std::vector<char> keep(b.entries.size(), 0);
  bool any_retry = false;
  for (size_t i = 0; i < state.size(); ++i) {
    if (state[i] == 0) ++written;
    if (state[i] == 2) keep[i] = any_retry = true;
  }
  shared_->rows_written.fetch_add(written, std::memory_order_relaxed);
  if (any_retry) {
    Requeue(Subset(b, keep),
            Status::Unavailable("the server kept returning the entries as UnprocessedEntries"));
  }
}

void Loader::Worker::Handle(Batch b, const BatchReply& reply) {
  switch (ClassifyReply(reply.http_status, reply.error_code)) {
    case ReplyClass::kOk:
      HandleOk(b, reply);
      break;
    case ReplyClass::kRetry:
      Requeue(std::move(b), Status::Unavailable(fmt::format("HTTP {} {}: {}", reply.http_status,
                                                            reply.error_code, reply.message)));
      return;
    case ReplyClass::kFatal:
      shared_->Fail(
          Status(reply.http_status == 404 || reply.error_code == "ResourceNotFound"
                     ? StatusCode::kNotFound
                     : StatusCode::kPermissionDenied,
                 fmt::format("BatchWriteRecord failed: {}: {}", reply.error_code, reply.message)));
      break;
    case ReplyClass::kReject: {
      const std::string reason = fmt::format("{}: {}", reply.error_code, reply.message);
      for (const EntryRef& r : b.entries) {
        rapidjson::Document entry;
        entry.Parse(b.body.data() + r.begin, r.end - r.begin);
        Reject(r.row, reason, entry.HasParseError() ? "{}" : RecordValuesJson(entry));
      }
      break;
    }
  }
  Recycle(std::move(b));
}

void Loader::Worker::Run() {
  StatusOr<std::unique_ptr<BatchChannel>> ch = loader_->channels_();
  if (!ch.ok()) {
    shared_->Fail(ch.status());
    return;
  }
  channel_ = std::move(ch).value();
  const size_t depth = static_cast<size_t>(opts_.pipeline_depth);
  while (true) {
    // Fill the pipeline: due retries first, then new rows.
    while (!shared_->stop.load() && inflight_.size() < depth) {
      Batch b;
      if (!retry_.empty()) {
        const Clock::time_point due = retry_.front().not_before;
        if (due > Clock::now()) {
          if (!inflight_.empty()) break;       // read replies meanwhile
          std::this_thread::sleep_until(due);  // backoff before a retry
        }
        b = std::move(retry_.front());
        retry_.pop_front();
      } else {
        b = NewBatch();
        if (!NextBatch(&b)) break;
      }
      ++b.attempts;
      shared_->requests.fetch_add(1, std::memory_order_relaxed);
      Status s = channel_->Send(b.body);
      inflight_.push_back(std::move(b));
      if (!s.ok()) {
        TransportFailed(s);
        break;
      }
    }
    if (inflight_.empty()) {
      if (shared_->stop.load() || (retry_.empty() && input_exhausted_)) break;
      continue;
    }
    StatusOr<BatchReply> reply = channel_->Receive();
    if (!reply.ok()) {
      TransportFailed(reply.status());
      continue;
    }
    Batch b = std::move(inflight_.front());
    inflight_.pop_front();
    Handle(std::move(b), *reply);
  }
}

Loader::Loader(catalog::FeatureGroup group, LoaderOptions options, FileFormat format,
               EncodePlan plan, ChannelFactory channels)
    : group_(std::move(group)),
      options_(std::move(options)),
      format_(format),
      plan_(std::move(plan)),
      channels_(std::move(channels)),
      shared_(std::make_unique<Shared>(options_.rejects_path)) {
  shared_->capacity = static_cast<size_t>(options_.workers) + 1;
}

Loader::~Loader() = default;

StatusOr<std::unique_ptr<Loader>> Loader::Open(const catalog::FeatureGroup& group,
                                               const LoaderOptions& options,
                                               ChannelFactory channels) {
  if (options.workers < 1) {
    return Status::InvalidArgument(fmt::format("--workers must be >= 1, got {}", options.workers));
  }
  if (options.batch_size < 1 || options.batch_size > kMaxBatchEntries) {
    return Status::InvalidArgument(
        fmt::format("--batch-size must be from 1 to {} (BatchWriteRecord's limit), got {}",
                    kMaxBatchEntries, options.batch_size));
  }
  if (options.pipeline_depth < 1) {
    return Status::InvalidArgument(
        fmt::format("--pipeline must be >= 1, got {}", options.pipeline_depth));
  }
  if (options.max_attempts < 1) {
    return Status::InvalidArgument(
        fmt::format("--max-attempts must be >= 1, got {}", options.max_attempts));
  }
  if (options.rejects_path.empty()) {
    return Status::InvalidArgument("a rejects file path is required");
  }
  ASSIGN_OR_RETURN(FileFormat format, ResolveFileFormat(options.path, options.format));
  ASSIGN_OR_RETURN(std::unique_ptr<offline::Database> db, OpenSourceDatabase(options.db));
  ASSIGN_OR_RETURN(std::unique_ptr<offline::Connection> conn, db->Connect());
  ScanOptions scan;
  scan.format = format;
  scan.all_varchar = format == FileFormat::kCsv;
  ASSIGN_OR_RETURN(std::vector<offline::Column> columns,
                   DescribeSource(conn.get(), options.path, scan));
  catalog::FeatureGroup g = group;
  g.BuildIndex();
  ASSIGN_OR_RETURN(EncodePlan plan, PlanColumns(g, columns, options.ignore_extra_columns));
  return std::unique_ptr<Loader>(
      new Loader(std::move(g), options, format, std::move(plan), std::move(channels)));
}

int64_t Loader::EstimateRows() {
  if (format_ == FileFormat::kParquet) {
    auto db = OpenSourceDatabase(options_.db);
    if (!db.ok()) return -1;
    auto conn = (*db)->Connect();
    if (!conn.ok()) return -1;
    ScanOptions scan;
    scan.format = format_;
    auto result = (*conn)->Query("SELECT count(*) FROM " + ScanSql(options_.path, scan));
    if (!result.ok()) return -1;
    offline::Chunk chunk;
    auto more = (*result)->Next(&chunk);
    if (!more.ok() || !*more || chunk.rows.empty() || chunk.rows[0].empty()) return -1;
    return chunk.rows[0][0].int_value;
  }
  if (options_.path.ends_with(".gz")) return -1;
  std::FILE* f = std::fopen(options_.path.c_str(), "rb");
  if (f == nullptr) return -1;
  std::vector<char> block(kReadBlockBytes);
  int64_t lines = 0;
  char first = 0, last = '\n';
  bool seen_first = false;
  size_t n;
  while ((n = std::fread(block.data(), 1, block.size(), f)) > 0) {
    if (!seen_first) {
      first = block[0];
      seen_first = true;
    }
    lines += std::count(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(n), '\n');
    last = block[n - 1];
  }
  std::fclose(f);
  if (!seen_first) return 0;
  if (last != '\n') ++lines;
  if (format_ == FileFormat::kJson) return first == '[' ? -1 : lines;
  return std::max<int64_t>(0, lines - 1);  // the header
}

void Loader::ReadFile() {
  Shared& s = *shared_;
  auto finish = [&] {
    {
      MutexLock l(&s.mu);
      s.input_done = true;
    }
    s.not_empty.notify_all();
  };
  auto db = OpenSourceDatabase(options_.db);
  if (!db.ok()) {
    s.Fail(db.status());
    return finish();
  }
  auto conn = (*db)->Connect();
  if (!conn.ok()) {
    s.Fail(conn.status());
    return finish();
  }
  ScanOptions scan;
  scan.format = format_;
  scan.all_varchar = format_ == FileFormat::kCsv;
  std::string sql = "SELECT ";
  for (size_t i = 0; i < plan_.select_list.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += plan_.select_list[i];
  }
  sql += " FROM " + ScanSql(options_.path, scan);
  auto result = (*conn)->Query(sql);
  if (!result.ok()) {
    s.Fail(result.status().WithPrefix(fmt::format("reading '{}'", options_.path)));
    return finish();
  }
  int64_t next_row = 1;
  while (!s.stop.load()) {
    Work w;
    w.first_row = next_row;
    StatusOr<bool> more = (*result)->Next(&w.chunk);
    if (!more.ok()) {
      s.Fail(more.status().WithPrefix(
          fmt::format("reading '{}' after data row {}", options_.path, next_row - 1)));
      break;
    }
    if (!*more) break;
    const int64_t n = static_cast<int64_t>(w.chunk.rows.size());
    next_row += n;
    s.rows_read.fetch_add(n, std::memory_order_relaxed);
    MutexLock l(&s.mu);
    while (s.queue.size() >= s.capacity && !s.stop.load()) s.not_full.wait(s.mu);
    s.queue.push_back(std::move(w));
    s.not_empty.notify_one();
  }
  finish();
}

LoadSummary Loader::Run() {
  LoadSummary summary;
  if (shared_->ran) {
    summary.status = Status::FailedPrecondition("Loader::Run may be called only once");
    return summary;
  }
  shared_->ran = true;
  const Clock::time_point start = Clock::now();
  std::thread reader([this] { ReadFile(); });
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(options_.workers));
  for (int i = 0; i < options_.workers; ++i) {
    workers.emplace_back([this] {
      Worker w(this);
      w.Run();
    });
  }
  for (std::thread& t : workers) t.join();
  // Workers end early only when the load stopped; unblock the reader then.
  {
    MutexLock l(&shared_->mu);
    shared_->stop.store(true);
  }
  shared_->not_full.notify_all();
  reader.join();

  summary.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  summary.stats = Stats();
  Status closed = shared_->rejects.Close();
  {
    MutexLock l(&shared_->mu);
    summary.status = shared_->fatal;
  }
  if (summary.status.ok() && shared_->cancelled.load()) {
    summary.status = Status::Cancelled("the load was interrupted");
  }
  if (summary.status.ok()) summary.status = closed;
  if (shared_->rejects.used()) summary.rejects_path = shared_->rejects.path();
  return summary;
}

LoadStats Loader::Stats() const {
  LoadStats s;
  s.rows_read = shared_->rows_read.load(std::memory_order_relaxed);
  s.rows_written = shared_->rows_written.load(std::memory_order_relaxed);
  s.rows_rejected = shared_->rows_rejected.load(std::memory_order_relaxed);
  s.requests = shared_->requests.load(std::memory_order_relaxed);
  s.retries = shared_->retries.load(std::memory_order_relaxed);
  return s;
}

void Loader::Cancel() {
  {
    MutexLock l(&shared_->mu);
    shared_->cancelled.store(true);
    shared_->stop.store(true);
  }
  shared_->not_empty.notify_all();
  shared_->not_full.notify_all();
}

}  // namespace larder::ingest
