// `larder create-feature-group NAME --from FILE --record-id COL --event-time COL`: infers the
// schema from a sample of FILE (ingest/schema_inference.h), shows it, calls CreateFeatureGroup
// and waits until the group is Created.
#include <fmt/format.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status_macros.h"
#include "ingest/schema_inference.h"

namespace larder::cli {
namespace {

constexpr std::string_view kPlaceholderRole = "arn:aws:iam::123456789012:role/larder";

class CreateCommand final : public Command {
 public:
  explicit CreateCommand(CLI::App* app) {
    sub_ = app->add_subcommand(
        "create-feature-group",
        "Create a feature group with the schema inferred from a CSV, Parquet or JSON file");
    sub_->add_option("name", name_, "Feature group name")->required();
    sub_->add_option("--from", from_, "File whose columns define the features")->required();
    sub_->add_option("--record-id", record_id_, "Column that identifies a record")->required();
    sub_->add_option("--event-time", event_time_, "Column with each record's event time")
        ->required();
    sub_->add_flag("--online", online_, "Enable the online store");
    sub_->add_flag("--offline", offline_, "Enable the offline store (with neither flag: both)");
    sub_->add_option("--online-storage-type", storage_type_,
                     "Standard or InMemory (InMemory turns list columns into List features)")
        ->check(CLI::IsMember({"Standard", "InMemory"}));
    sub_->add_option("--ttl", ttl_, "Default record time to live: 30m, 12h, 7d, 2w...");
    sub_->add_option("--description", description_, "Description (up to 128 characters)");
    sub_->add_option("--s3-uri", s3_uri_, "Offline store S3Uri (default s3://larder/NAME)");
    sub_->add_option("--role-arn", role_arn_, "RoleArn recorded with the group")
        ->capture_default_str();
    sub_->add_option("--type", types_,
                     "COLUMN=Integral|Fractional|String: override an inferred type (repeatable)");
    sub_->add_option("--input-format", input_format_, "auto, csv, parquet or json")
        ->check(CLI::IsMember({"auto", "csv", "parquet", "json"}))
        ->capture_default_str();
    sub_->add_option("--sample-rows", sample_rows_,
                     "Rows sampled to detect CSV/JSON types (-1: all)")
        ->capture_default_str();
    sub_->add_flag("--dry-run", dry_run_, "Show the inferred schema; create nothing");
    sub_->add_flag("--no-wait", no_wait_, "Return once the creation started");
    sub_->add_option("--wait-timeout", wait_timeout_, "Seconds to wait for Created")
        ->capture_default_str();
    AddFormatFlag(sub_, &format_, {"table", "json"});
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "Types follow the SageMaker SDK's load_feature_definitions: integers -> Integral, "
        "floats -> Fractional, text -> String; booleans, dates and timestamps -> String "
        "(ISO-8601), where the SDK raises. The event time becomes String or Fractional.\n"
        "Example:\n  larder create-feature-group customer-features --from customers.csv \\\n"
        "      --record-id customer_id --event-time event_time --type event_time=String");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("create-feature-group", s);
  }

 private:
  Status RunOrError() {
    ingest::InferenceOptions o;
    o.format = *ingest::FileFormatFromName(input_format_);
    o.record_identifier = record_id_;
    o.event_time = event_time_;
    o.sample_rows = sample_rows_;
    o.allow_collections = storage_type_ == "InMemory";
    for (const std::string& t : types_) {
      const size_t eq = t.find('=');
      auto type =
          eq == std::string::npos ? std::nullopt : catalog::FeatureTypeFromName(t.substr(eq + 1));
      if (!type) {
        return Status::InvalidArgument(fmt::format(
            "--type must be COLUMN=Integral, COLUMN=Fractional or COLUMN=String, got '{}'", t));
      }
      o.overrides[t.substr(0, eq)] = *type;
    }
    std::optional<catalog::TtlDuration> ttl;
    if (!ttl_.empty()) {
      ASSIGN_OR_RETURN(catalog::TtlDuration parsed, ParseTtl(ttl_, "--ttl"));
      ttl = parsed;
    }
    ASSIGN_OR_RETURN(ingest::InferredSchema schema, ingest::InferSchema(from_, o));

    const bool both = !online_ && !offline_;
    const bool online = online_ || both;
    const bool offline = offline_ || both;
    if (ttl && !online) {
      return Status::InvalidArgument("--ttl applies to the online store; add --online");
    }
    const std::string s3_uri = s3_uri_.empty() ? "s3://larder/" + name_ : s3_uri_;
    const std::string request = BuildRequest(schema, online, offline, ttl, s3_uri);

    if (format_ == "table") {
      Table t;
      t.header = {"FEATURE", "TYPE", "FROM", "NOTE"};
      for (const ingest::InferredFeature& f : schema.features) {
        std::string type(catalog::FeatureTypeName(f.definition.type));
        if (f.definition.collection != catalog::CollectionType::kNone) {
          type =
              fmt::format("{} of {}", catalog::CollectionTypeName(f.definition.collection), type);
        }
        std::string note = f.note;
        if (f.definition.name == record_id_)
          note = "record identifier" + (note.empty() ? "" : "; " + note);
        if (f.definition.name == event_time_)
          note = "event time" + (note.empty() ? "" : "; " + note);
        t.rows.push_back({f.definition.name, type, f.source_type, note});
      }
      fmt::print("Schema of '{}' from {} ({}):\n", name_, from_,
                 ingest::FileFormatName(schema.format));
      PrintTable(stdout, t, TerminalWidth(stdout));
      std::fflush(stdout);
    }
    if (dry_run_) {
      if (format_ == "json") {
        rapidjson::Document d;
        d.Parse(request.c_str());
        PrintJson(stdout, d);
      }
      return Status::OK();
    }

    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    ASSIGN_OR_RETURN(rapidjson::Document created, client.SageMaker("CreateFeatureGroup", request));
    const std::string arn(GetString(created, "FeatureGroupArn"));
    std::string status = "Creating";
    if (!no_wait_) {
      ASSIGN_OR_RETURN(rapidjson::Document d,
                       WaitWhileStatus(&client, name_, "Creating", wait_timeout_));
      status = std::string(GetString(d, "FeatureGroupStatus"));
      if (status != "Created") {
        return Status::FailedPrecondition(fmt::format("feature group '{}' ended in status {}: {}",
                                                      name_, status,
                                                      GetString(d, "FailureReason")));
      }
    }
    if (format_ == "json") {
      rapidjson::Document out;
      out.Parse(request.c_str());
      auto& alloc = out.GetAllocator();
      out.AddMember("FeatureGroupArn", rapidjson::Value(arn.c_str(), alloc), alloc);
      out.AddMember("FeatureGroupStatus", rapidjson::Value(status.c_str(), alloc), alloc);
      PrintJson(stdout, out);
    } else {
      fmt::print(stderr, "feature group '{}' is {} ({})\n", name_, status, arn);
    }
    return Status::OK();
  }

  std::string BuildRequest(const ingest::InferredSchema& schema, bool online, bool offline,
                           const std::optional<catalog::TtlDuration>& ttl,
                           const std::string& s3_uri) const {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("FeatureGroupName");
    WriteString(w, name_);
    w.Key("RecordIdentifierFeatureName");
    WriteString(w, record_id_);
    w.Key("EventTimeFeatureName");
    WriteString(w, event_time_);
    w.Key("FeatureDefinitions");
    w.StartArray();
    for (const ingest::InferredFeature& f : schema.features) {
      w.StartObject();
      w.Key("FeatureName");
      WriteString(w, f.definition.name);
      w.Key("FeatureType");
      WriteString(w, catalog::FeatureTypeName(f.definition.type));
      if (f.definition.collection != catalog::CollectionType::kNone) {
        w.Key("CollectionType");
        WriteString(w, catalog::CollectionTypeName(f.definition.collection));
      }
      w.EndObject();
    }
    w.EndArray();
    if (online) {
      w.Key("OnlineStoreConfig");
      w.StartObject();
      w.Key("EnableOnlineStore");
      w.Bool(true);
      if (!storage_type_.empty()) {
        w.Key("StorageType");
        WriteString(w, storage_type_);
      }
      if (ttl) {
        w.Key("TtlDuration");
        w.StartObject();
        w.Key("Unit");
        WriteString(w, catalog::TtlUnitName(ttl->unit));
        w.Key("Value");
        w.Int64(ttl->value);
        w.EndObject();
      }
      w.EndObject();
    }
    if (offline) {
      w.Key("OfflineStoreConfig");
      w.StartObject();
      w.Key("S3StorageConfig");
      w.StartObject();
      w.Key("S3Uri");
      WriteString(w, s3_uri);
      w.EndObject();
      w.EndObject();
    }
    w.Key("RoleArn");
    WriteString(w, role_arn_);
    if (!description_.empty()) {
      w.Key("Description");
      WriteString(w, description_);
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string format_;
  std::string name_;
  std::string from_;
  std::string record_id_;
  std::string event_time_;
  bool online_ = false;
  bool offline_ = false;
  std::string storage_type_;
  std::string ttl_;
  std::string description_;
  std::string s3_uri_;
  std::string role_arn_{kPlaceholderRole};
  std::vector<std::string> types_;
  std::string input_format_ = "auto";
  int64_t sample_rows_ = 20480;
  bool dry_run_ = false;
  bool no_wait_ = false;
  double wait_timeout_ = 300;
};

}  // namespace

std::unique_ptr<Command> NewCreateFeatureGroupCommand(CLI::App* app) {
  return std::make_unique<CreateCommand>(app);
}

}  // namespace larder::cli
