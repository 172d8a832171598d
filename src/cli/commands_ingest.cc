// `larder ingest FILE --feature-group NAME`: bulk load with BatchWriteRecord from N workers
// (ingest/loader.h), a progress bar on a terminal and a summary at the end.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "common/status_macros.h"
#include "ingest/loader.h"

namespace larder::cli {
namespace {

// BatchWriteRecord over one keep-alive connection (pipelined). Thread-compatible.
class HttpBatchChannel final : public ingest::BatchChannel {
 public:
  explicit HttpBatchChannel(ClientConfig config) : conn_(std::move(config)) {}

  Status Send(std::string_view body) override {
    ClientRequest r;
    r.method = "POST";
    r.target = "/BatchWriteRecord";
    r.content_type = "application/json";
    r.body = body;
    return conn_.Send(r);
  }

  StatusOr<ingest::BatchReply> Receive() override {
    ASSIGN_OR_RETURN(ClientReply reply, conn_.Receive());
    ingest::BatchReply out;
    out.http_status = reply.status;
    if (reply.status >= 300) ParseAwsError(reply, &out.error_code, &out.message);
    out.body = std::move(reply.body);
    return out;
  }

 private:
  Connection conn_;
};

// Turns SIGINT/SIGTERM into Loader::Cancel while a load runs (before the loader exists they end
// the process with status 130). Construct before any other thread starts: threads inherit the
// blocked mask, so this watcher's sigwait alone receives the signals.
class InterruptWatcher {
 public:
  InterruptWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      int sig = 0;
      sigwait(&set_, &sig);
      if (done_.load()) return;
      ingest::Loader* loader = loader_.load();
      if (loader == nullptr) {
        std::fputs("\nlarder ingest: interrupted\n", stderr);
        std::_Exit(130);
      }
      interrupted_.store(true);
      loader->Cancel();
    });
  }
  ~InterruptWatcher() { Stop(); }

  // `loader` must stay alive until Stop.
  void Watch(ingest::Loader* loader) { loader_.store(loader); }

  void Stop() {
    if (!thread_.joinable()) return;
    done_.store(true);
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_;
  sigset_t old_;
  std::atomic<ingest::Loader*> loader_{nullptr};
  std::atomic<bool> done_{false};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

class IngestCommand final : public Command {
 public:
  explicit IngestCommand(CLI::App* app) {
    sub_ = app->add_subcommand(
        "ingest", "Load a CSV, Parquet or JSON file into a feature group (BatchWriteRecord)");
    sub_->add_option("file", file_, "The file; columns are matched to features by name")
        ->required();
    sub_->add_option("--feature-group", group_, "Feature group name or ARN")->required();
    sub_->add_option("--workers", options_.workers, "Parallel connections")->capture_default_str();
    sub_->add_option("--batch-size", options_.batch_size, "Records per request (1..25)")
        ->capture_default_str();
    sub_->add_option("--pipeline", options_.pipeline_depth,
                     "Requests in flight per connection (HTTP/1.1 pipelining)")
        ->capture_default_str();
    sub_->add_option("--rejects", rejects_,
                     "JSON-lines file for rejected rows (default: FILE's name + .rejects.jsonl in "
                     "the current directory); created only if a row is rejected");
    sub_->add_flag("--ignore-extra-columns", options_.ignore_extra_columns,
                   "Skip columns that are not features instead of failing");
    sub_->add_option("--input-format", input_format_, "auto, csv, parquet or json")
        ->check(CLI::IsMember({"auto", "csv", "parquet", "json"}))
        ->capture_default_str();
    sub_->add_option("--max-attempts", options_.max_attempts,
                     "Sends per record before giving up on 5xx, throttling or lost connections")
        ->capture_default_str();
    sub_->add_option("--read-threads", options_.db.threads,
                     "DuckDB threads reading the file (0: all cores)")
        ->capture_default_str();
    sub_->add_flag("--no-progress", no_progress_, "No progress bar even on a terminal");
    AddFormatFlag(sub_, &format_, {"table", "json"});
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "Exit status: 0 all rows written; 3 some rows rejected (see the rejects file); 1 the load "
        "failed or was interrupted (rows already acknowledged stay written; re-running is safe).\n"
        "Example:\n  larder ingest customers.csv --feature-group customer-features --workers 8");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    int code = kExitFailed;
    Status s = RunOrError(&code);
    return s.ok() ? code : Fail("ingest", s);
  }

 private:
  Status RunOrError(int* exit_code) {
    InterruptWatcher watcher;
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(config);
    ASSIGN_OR_RETURN(rapidjson::Document d, DescribeGroup(&client, group_));
    ASSIGN_OR_RETURN(catalog::FeatureGroup group, GroupFromDescribe(d));
    if (group.status != catalog::GroupStatus::kCreated) {
      return Status::FailedPrecondition(fmt::format("feature group '{}' is {}, not Created",
                                                    group.name,
                                                    catalog::GroupStatusName(group.status)));
    }
    options_.path = file_;
    options_.format = *ingest::FileFormatFromName(input_format_);
    options_.rejects_path =
        rejects_.empty() ? std::filesystem::path(file_).filename().string() + ".rejects.jsonl"
                         : rejects_;
    ingest::ChannelFactory factory = [config]() -> StatusOr<std::unique_ptr<ingest::BatchChannel>> {
      return std::unique_ptr<ingest::BatchChannel>(new HttpBatchChannel(config));
    };
    ASSIGN_OR_RETURN(std::unique_ptr<ingest::Loader> loader,
                     ingest::Loader::Open(group, options_, std::move(factory)));
    const ingest::EncodePlan& plan = loader->plan();
    fmt::print(stderr, "ingesting {} ({}) into '{}': {} column{} -> features{}\n", file_,
               ingest::FileFormatName(loader->format()), group.name, plan.columns.size(),
               plan.columns.size() == 1 ? "" : "s",
               plan.ignored_columns.empty()
                   ? std::string()
                   : fmt::format(", ignoring {}", fmt::join(plan.ignored_columns, ", ")));

    const bool tty = IsTerminal(stderr) && !no_progress_;
    const int64_t total = tty ? loader->EstimateRows() : -1;
    const bool approximate = loader->format() != ingest::FileFormat::kParquet;
    const auto start = std::chrono::steady_clock::now();
    watcher.Watch(loader.get());
    ingest::LoadSummary summary;
    {
      ProgressLine progress(stderr, tty, [&](int width) {
        const ingest::LoadStats st = loader->Stats();
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return IngestProgressText(st.rows_written + st.rows_rejected, total, approximate, elapsed,
                                  width);
      });
      summary = loader->Run();
    }
    watcher.Stop();
    Report(group.name, summary);
    if (!summary.status.ok()) {
      fmt::print(stderr, "larder ingest: {}\n", summary.status.message());
      const int64_t unconfirmed =
          summary.stats.rows_read - summary.stats.rows_written - summary.stats.rows_rejected;
      fmt::print(stderr,
                 "larder ingest: stopped early; {} rows were acknowledged and stay written{}. "
                 "Re-running the same command is safe (the online store keeps the latest record "
                 "per identifier; see docs/cli.md about offline duplicates)\n",
                 Thousands(summary.stats.rows_written),
                 unconfirmed > 0
                     ? fmt::format(", {} read but not confirmed", Thousands(unconfirmed))
                     : "");
      *exit_code = kExitFailed;
      return Status::OK();
    }
    *exit_code = summary.stats.rows_rejected > 0 ? kExitRejects : kExitOk;
    return Status::OK();
  }

  void Report(const std::string& group, const ingest::LoadSummary& s) const {
    const double rate =
        s.elapsed_seconds > 0 ? static_cast<double>(s.stats.rows_written) / s.elapsed_seconds : 0;
    if (format_ == "json") {
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      w.StartObject();
      w.Key("feature_group");
      WriteString(w, group);
      w.Key("file");
      WriteString(w, file_);
      w.Key("rows_read");
      w.Int64(s.stats.rows_read);
      w.Key("rows_written");
      w.Int64(s.stats.rows_written);
      w.Key("rows_rejected");
      w.Int64(s.stats.rows_rejected);
      w.Key("requests");
      w.Int64(s.stats.requests);
      w.Key("retried_entries");
      w.Int64(s.stats.retries);
      w.Key("elapsed_seconds");
      w.Double(s.elapsed_seconds);
      w.Key("rows_per_second");
      w.Double(rate);
      w.Key("rejects_file");
      if (s.rejects_path.empty()) {
        w.Null();
      } else {
        WriteString(w, s.rejects_path);
      }
      w.Key("error");
      if (s.status.ok()) {
        w.Null();
      } else {
        WriteString(w, s.status.message());
      }
      w.EndObject();
      fmt::print("{}\n", std::string_view(sb.GetString(), sb.GetSize()));
      return;
    }
    fmt::print(stderr, "read {} rows, wrote {}, rejected {} in {} ({} rows/s)\n",
               Thousands(s.stats.rows_read), Thousands(s.stats.rows_written),
               Thousands(s.stats.rows_rejected), Duration(s.elapsed_seconds),
               Thousands(static_cast<int64_t>(rate)));
    if (!s.rejects_path.empty()) {
      fmt::print(stderr,
                 "rejected rows are in {} (one JSON object per line: row, reason, values)\n",
                 s.rejects_path);
    }
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string format_;
  std::string file_;
  std::string group_;
  std::string rejects_;
  std::string input_format_ = "auto";
  bool no_progress_ = false;
  ingest::LoaderOptions options_;
};

}  // namespace

std::unique_ptr<Command> NewIngestCommand(CLI::App* app) {
  return std::make_unique<IngestCommand>(app);
}

}  // namespace larder::cli
