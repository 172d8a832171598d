// `larder dataset`: a point-in-time training dataset (Larder.CreateDataset, the SDK's
// DatasetBuilder semantics; docs/datasets.md). The server writes DATA_DIR/datasets/<id>.<fmt>;
// --out copies it here when that path is readable from this machine.
#include <fmt/format.h>

#include <filesystem>

#include "catalog/record.h"
#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

// "NAME" or "NAME:f1,f2" -> name, features.
void SplitGroupSpec(const std::string& spec, std::string* name,
                    std::vector<std::string>* features) {
  const size_t colon = spec.find(':');
  *name = spec.substr(0, colon);
  features->clear();
  if (colon == std::string::npos) return;
  std::string rest = spec.substr(colon + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t comma = rest.find(',', start);
    if (comma == std::string::npos) comma = rest.size();
    if (comma > start) features->push_back(rest.substr(start, comma - start));
    start = comma + 1;
  }
}

class DatasetCommand final : public Command {
 public:
  explicit DatasetCommand(CLI::App* app) {
    sub_ = app->add_subcommand("dataset",
                               "Build a point-in-time training dataset from the offline store "
                               "(Larder.CreateDataset)");
    auto* base = sub_->add_option(
        "--base", base_,
        "Base file of entity rows (CSV or Parquet), on the server: relative to DATA_DIR/uploads "
        "or an absolute path the server allows");
    auto* base_group = sub_->add_option("--base-feature-group", base_group_,
                                        "Base feature group NAME or NAME:f1,f2");
    base->excludes(base_group);
    sub_->add_option("--base-id-column", base_id_, "The base file's record identifier column");
    sub_->add_option("--base-event-time-column", base_event_time_,
                     "The base file's event time column");
    sub_->add_option("--base-columns", base_columns_, "Base file columns to keep (default: all)")
        ->delimiter(',');
    sub_->add_option("--base-format", base_format_, "csv or parquet (default: by extension)")
        ->check(CLI::IsMember({"csv", "parquet"}));
    sub_->add_option("--feature-group", groups_,
                     "Feature group to join, NAME or NAME:f1,f2 (repeatable, joined in order)");
    sub_->add_option("--join-mode", join_mode_,
                     "AsOf (default: one row per base row, the latest features at its event time) "
                     "or AllMatches (the SDK's literal join)")
        ->check(CLI::IsMember({"AsOf", "AllMatches"}));
    sub_->add_option("--join-type", join_type_, "Inner, Left, Right or Full (every group)")
        ->check(CLI::IsMember({"Inner", "Left", "Right", "Full"}));
    sub_->add_flag("--no-point-in-time", no_point_in_time_,
                   "AllMatches only: do not require feature event time <= base event time");
    sub_->add_flag("--include-deleted", include_deleted_,
                   "Keep records deleted later (the SDK's include_deleted_records)");
    sub_->add_flag("--include-duplicates", include_duplicates_,
                   "Keep duplicate (id, event time) rows (include_duplicated_records)");
    sub_->add_option("--as-of", as_of_,
                     "Only rows written by this time (ISO-8601 Z or Unix seconds)");
    sub_->add_option("--event-time-start", event_time_start_, "Only events at or after this time");
    sub_->add_option("--event-time-end", event_time_end_, "Only events at or before this time");
    sub_->add_option("--recent", recent_, "Keep the N most recent rows per record identifier");
    sub_->add_option("--limit", limit_, "At most N rows");
    sub_->add_option(
            "--column-naming", naming_,
            "Sdk (joined columns are \"<feature>.<i>\") or Plain (names kept unless taken)")
        ->check(CLI::IsMember({"Sdk", "Plain"}));
    sub_->add_option("--format", format_, "The dataset's format: csv or parquet")
        ->check(CLI::IsMember({"csv", "parquet"}))
        ->capture_default_str();
    sub_->add_option("--out", out_, "Copy the dataset to this file (the server must be local)");
    sub_->add_flag("--json", json_, "Print the reply as JSON on stdout");
    flags_.timeout_seconds = 1800;  // builds run inside the request
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "Examples:\n"
        "  larder dataset --base-feature-group customer-features --out customers.parquet\n"
        "  larder dataset --base labels.csv --base-id-column customer_id \\\n"
        "      --base-event-time-column event_timestamp \\\n"
        "      --feature-group customer-features:total_purchases,loyalty_score --format csv "
        "--out train.csv");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("dataset", s);
  }

 private:
  static StatusOr<double> Seconds(const std::string& text, std::string_view flag) {
    StatusOr<int64_t> micros = catalog::ParseEventTime(flag, catalog::FeatureType::kString, text);
    if (!micros.ok()) {
      return Status::InvalidArgument(fmt::format(
          "{} must be ISO-8601 UTC (2024-05-01T12:00:00Z) or Unix seconds, got '{}'", flag, text));
    }
    return static_cast<double>(*micros) / 1e6;
  }

  StatusOr<std::string> BuildRequest() const {
    if (base_.empty() == base_group_.empty()) {
      return Status::InvalidArgument(
          "give exactly one of --base FILE and --base-feature-group NAME");
    }
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    if (!base_.empty()) {
      if (base_id_.empty() || base_event_time_.empty()) {
        return Status::InvalidArgument(
            "--base needs --base-id-column and --base-event-time-column");
      }
      w.Key("Base");
      w.StartObject();
      w.Key("Path");
      WriteString(w, base_);
      if (!base_format_.empty()) {
        w.Key("Format");
        WriteString(w, base_format_);
      }
      w.Key("RecordIdentifierFeatureName");
      WriteString(w, base_id_);
      w.Key("EventTimeFeatureName");
      WriteString(w, base_event_time_);
      if (!base_columns_.empty()) {
        w.Key("Columns");
        w.StartArray();
        for (const std::string& c : base_columns_) WriteString(w, c);
        w.EndArray();
      }
      w.EndObject();
    } else {
      std::string name;
      std::vector<std::string> features;
      SplitGroupSpec(base_group_, &name, &features);
      w.Key("BaseFeatureGroupName");
      WriteString(w, name);
      if (!features.empty()) {
        w.Key("BaseFeatureNames");
        w.StartArray();
        for (const std::string& f : features) WriteString(w, f);
        w.EndArray();
      }
    }
    if (!groups_.empty()) {
      w.Key("FeatureGroups");
      w.StartArray();
      for (const std::string& spec : groups_) {
        std::string name;
        std::vector<std::string> features;
        SplitGroupSpec(spec, &name, &features);
        w.StartObject();
        w.Key("FeatureGroupName");
        WriteString(w, name);
        if (!features.empty()) {
          w.Key("FeatureNames");
          w.StartArray();
          for (const std::string& f : features) WriteString(w, f);
          w.EndArray();
        }
        if (!join_type_.empty()) {
          w.Key("JoinType");
          WriteString(w, join_type_);
        }
        w.EndObject();
      }
      w.EndArray();
    }
    if (!join_mode_.empty()) {
      w.Key("JoinMode");
      WriteString(w, join_mode_);
    }
    if (no_point_in_time_) {
      w.Key("PointInTimeAccurateJoin");
      w.Bool(false);
    }
    if (include_deleted_) {
      w.Key("IncludeDeletedRecords");
      w.Bool(true);
    }
    if (include_duplicates_) {
      w.Key("IncludeDuplicatedRecords");
      w.Bool(true);
    }
    for (const auto& [flag, value, key] :
         {std::tuple{"--as-of", &as_of_, "AsOf"},
          std::tuple{"--event-time-start", &event_time_start_, "EventTimeStart"},
          std::tuple{"--event-time-end", &event_time_end_, "EventTimeEnd"}}) {
      if (value->empty()) continue;
      ASSIGN_OR_RETURN(double seconds, Seconds(*value, flag));
      w.Key(key);
      w.Double(seconds);
    }
    if (recent_ >= 0) {
      w.Key("NumberOfRecentRecords");
      w.Int64(recent_);
    }
    if (limit_ >= 0) {
      w.Key("NumberOfRecords");
      w.Int64(limit_);
    }
    if (!naming_.empty()) {
      w.Key("ColumnNaming");
      WriteString(w, naming_);
    }
    w.Key("OutputFormat");
    WriteString(w, format_);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }

  Status RunOrError() {
    ASSIGN_OR_RETURN(std::string request, BuildRequest());
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    const auto start = std::chrono::steady_clock::now();
    StatusOr<rapidjson::Document> reply = Status::Internal("not run");
    {
      ProgressLine spinner(stderr, IsTerminal(stderr), [&, tick = 0](int) mutable {
        return SpinnerText(
            tick++, "building dataset",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      });
      reply = client.CallJson(kSageMakerService, "Larder", "CreateDataset", request);
    }
    if (!reply.ok()) {
      if (reply.status().code() == StatusCode::kInvalidArgument &&
          reply.status().message().find("UnknownOperation") != std::string::npos) {
        return reply.status().WithPrefix(
            "this server does not offer Larder.CreateDataset (an older `larder serve`?)");
      }
      return reply.status();
    }
    const rapidjson::Document& d = *reply;
    const std::string output(GetString(d, "OutputPath"));
    if (!out_.empty()) {
      std::error_code ec;
      std::filesystem::copy_file(output, out_, std::filesystem::copy_options::overwrite_existing,
                                 ec);
      if (ec) {
        return Status::IOError(fmt::format(
            "the dataset was built on the server at '{}', but copying it to --out '{}' failed: {} "
            "(--out needs the server's data directory to be readable from here)",
            output, out_, ec.message()));
      }
    }
    if (json_) {
      PrintJson(stdout, d);
      return Status::OK();
    }
    std::vector<std::string> cols;
    if (const rapidjson::Value* c = GetMember(d, "Columns"); c != nullptr && c->IsArray()) {
      for (const rapidjson::Value& v : c->GetArray())
        cols.emplace_back(v.GetString(), v.GetStringLength());
    }
    fmt::print(stderr, "dataset {}: {} rows, {} columns ({}) in {} ms\n", GetString(d, "DatasetId"),
               Thousands(static_cast<int64_t>(GetNumber(d, "RowCount"))), cols.size(),
               fmt::join(cols, ", "), static_cast<int64_t>(GetNumber(d, "ElapsedMillis")));
    fmt::print("{}\n", out_.empty() ? output : out_);
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string base_;
  std::string base_group_;
  std::string base_id_;
  std::string base_event_time_;
  std::vector<std::string> base_columns_;
  std::string base_format_;
  std::vector<std::string> groups_;
  std::string join_mode_;
  std::string join_type_;
  bool no_point_in_time_ = false;
  bool include_deleted_ = false;
  bool include_duplicates_ = false;
  std::string as_of_;
  std::string event_time_start_;
  std::string event_time_end_;
  int64_t recent_ = -1;
  int64_t limit_ = -1;
  std::string naming_;
  std::string format_ = "parquet";
  std::string out_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> NewDatasetCommand(CLI::App* app) {
  return std::make_unique<DatasetCommand>(app);
}

}  // namespace larder::cli
