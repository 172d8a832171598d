// Loader: bulk ingestion of a CSV, Parquet or JSON file into one feature group with
// BatchWriteRecord (the runtime's bulk write, up to 25 entries per request).
//
// Pipeline: one reader thread streams the file through DuckDB in chunks of up to 2048 rows into a
// bounded queue (so memory stays bounded whatever the file size); N workers each take a chunk,
// convert its rows (entry_encoder.h), and send BatchWriteRecord requests on their own channel,
// keeping up to `pipeline_depth` requests in flight.
//
// Outcomes, per row:
//   written   the server acknowledged it (a 200 reply that lists it neither in Errors nor in
//             UnprocessedEntries)
//   rejected  it failed client-side conversion, or the reply listed it in Errors, or the whole
//             request was refused with a 4xx that is about the request (ValidationError): one
//             JSON line in the rejects file {"row": N, "reason": "...", "values": {...}} where
//             N counts data rows from 1 (the CSV header is not a row)
//   retried   UnprocessedEntries, 5xx, throttling and lost connections are retried with
//             exponential backoff, up to `max_attempts` sends per entry
// A fatal error (403, an unknown feature group, retries exhausted, the file failing to parse
// part way) stops every worker; rows already acknowledged stay written.
//
// Re-running after a crash or a failure is safe: a record re-sent with the same event time
// replaces the online record with identical values (latest-wins, ties go to the later write). The
// offline store, which keeps every accepted write, then holds the row twice with different
// api_invocation_time; the SDK's dataset dedup (and `larder dataset`) keeps one per (record
// identifier, event time), raw Athena queries see both. Rows of one file that share a record
// identifier and event time are sent in no particular order when workers > 1.
//
// Thread-safety: Run is called once, from one thread; Stats and Cancel may be called from any
// thread while it runs.
#ifndef LARDER_INGEST_LOADER_H_
#define LARDER_INGEST_LOADER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/feature_group.h"
#include "ingest/entry_encoder.h"
#include "ingest/source.h"
#include "larder/status.h"

namespace larder::ingest {

// What a channel learned from one BatchWriteRecord round trip.
struct BatchReply {
  int http_status = 0;
  std::string error_code;  // for http_status >= 300: the AWS error code ("ValidationError")
  std::string message;     // ... and its message
  std::string body;        // the reply body (for 200: {"Errors":[..],"UnprocessedEntries":[..]})
};

// Where one worker's requests go. Requests may be pipelined: Send several, then Receive the
// replies in order. After a failed Send or Receive, every request not yet received is lost and
// the next Send starts afresh (reconnects). Thread-compatible: one per worker.
class BatchChannel {
 public:
  virtual ~BatchChannel() = default;
  virtual Status Send(std::string_view body) = 0;
  virtual StatusOr<BatchReply> Receive() = 0;
};

// Makes one channel per worker; called from the worker threads.
using ChannelFactory = std::function<StatusOr<std::unique_ptr<BatchChannel>>()>;

// What to do with a reply of this status and code.
enum class ReplyClass {
  kOk,      // 2xx: look at Errors and UnprocessedEntries
  kRetry,   // 5xx, 429, throttling: send the batch again later
  kReject,  // another 4xx about the request: its rows are rejected
  kFatal,   // 401/403 (keys), unknown group: stop the load
};
ReplyClass ClassifyReply(int http_status, std::string_view error_code);

struct LoaderOptions {
  std::string path;
  FileFormat format = FileFormat::kAuto;
  int workers = 4;         // >= 1
  int batch_size = 25;     // entries per request, 1..25 (the model's limit)
  int pipeline_depth = 4;  // requests in flight per worker, >= 1
  bool ignore_extra_columns = false;
  // Created (truncated) when the first row is rejected; required.
  std::string rejects_path;
  int max_attempts = 10;  // sends per entry before giving up (botocore's standard mode: 10)
  int64_t retry_base_ms = 50;
  int64_t retry_max_ms = 5'000;
  SourceDbOptions db;
};

// Counters, updated as the load goes.
struct LoadStats {
  int64_t rows_read = 0;      // rows the scan produced
  int64_t rows_written = 0;   // acknowledged by the server
  int64_t rows_rejected = 0;  // in the rejects file
  int64_t requests = 0;       // BatchWriteRecord requests sent (retries included)
  int64_t retries = 0;        // entries sent again
};

struct LoadSummary {
  Status status;  // OK, or why the load stopped early
  LoadStats stats;
  double elapsed_seconds = 0;
  std::string rejects_path;  // empty when nothing was rejected
};

class Loader {
 public:
  // Plans the load: resolves the format, reads the file's columns and maps them onto `group`'s
  // features (PlanColumns). InvalidArgument names the offending option, column or type.
  // `group` is copied.
  static StatusOr<std::unique_ptr<Loader>> Open(const catalog::FeatureGroup& group,
                                                const LoaderOptions& options,
                                                ChannelFactory channels);
  ~Loader();

  const EncodePlan& plan() const { return plan_; }
  FileFormat format() const { return format_; }

  // A quick estimate of the data rows in the file, for progress: exact for Parquet (metadata),
  // a count of line breaks for CSV and JSON lines; -1 when unknown.
  int64_t EstimateRows();

  // Loads the whole file. Blocks until every row is written or rejected, or the load stops.
  LoadSummary Run();

  LoadStats Stats() const;
  // Makes Run stop soon (in-flight requests finish; the rest is not sent); its status is then
  // Cancelled.
  void Cancel();

 private:
  struct Shared;
  class Worker;
  Loader(catalog::FeatureGroup group, LoaderOptions options, FileFormat format, EncodePlan plan,
         ChannelFactory channels);
  void ReadFile();

  const catalog::FeatureGroup group_;
  const LoaderOptions options_;
  const FileFormat format_;
  const EncodePlan plan_;
  const ChannelFactory channels_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace larder::ingest

#endif  // LARDER_INGEST_LOADER_H_
