// `larder describe NAME`: DescribeFeatureGroup, as a summary and a feature table.
#include <fmt/format.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

class DescribeCommand final : public Command {
 public:
  explicit DescribeCommand(CLI::App* app) {
    sub_ =
        app->add_subcommand("describe", "Show a feature group's definition (DescribeFeatureGroup)");
    sub_->add_option("name", name_, "Feature group name or ARN")->required();
    AddFormatFlag(sub_, &format_, {"table", "json", "csv"});
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "--format json prints the DescribeFeatureGroup reply; csv prints the feature table.\n"
        "Example:\n  larder describe customer-features");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("describe", s);
  }

 private:
  Status RunOrError() {
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    ASSIGN_OR_RETURN(rapidjson::Document d, DescribeGroup(&client, name_));
    if (format_ == "json") {
      PrintJson(stdout, d);
      return Status::OK();
    }
    ASSIGN_OR_RETURN(catalog::FeatureGroup g, GroupFromDescribe(d));
    Table t;
    t.header = {"FEATURE", "TYPE", "COLLECTION", "ROLE"};
    for (const catalog::FeatureDefinition& f : g.features) {
      std::string collection(catalog::CollectionTypeName(f.collection));
      if (f.collection == catalog::CollectionType::kVector) {
        collection += fmt::format("({})", f.vector_dimension);
      }
      std::string role = f.name == g.record_identifier_name    ? "record identifier"
                         : f.name == g.event_time_feature_name ? "event time"
                                                               : "";
      t.rows.push_back({f.name, std::string(catalog::FeatureTypeName(f.type)), collection, role});
    }
    if (format_ == "csv") {
      PrintCsv(stdout, t);
      return Status::OK();
    }
    std::string online = "disabled";
    if (g.online_enabled) {
      online = "enabled";
      if (!g.online_storage_type.empty()) online += ", " + g.online_storage_type;
      if (g.ttl) {
        online += fmt::format(", TTL {} {}", g.ttl->value, catalog::TtlUnitName(g.ttl->unit));
      }
    }
    std::string offline = "disabled";
    if (g.offline_enabled) {
      offline = g.resolved_output_s3_uri.empty() ? g.s3_uri : g.resolved_output_s3_uri;
      if (!g.table_name.empty()) {
        offline += fmt::format("  (table \"{}\".\"{}\")", g.data_database, g.table_name);
      }
    }
    std::vector<std::pair<std::string, std::string>> kv = {
        {"Name", g.name},
        {"ARN", g.arn},
        {"Status", std::string(GetString(d, "FeatureGroupStatus"))},
        {"Record identifier", g.record_identifier_name},
        {"Event time", g.event_time_feature_name},
        {"Online store", online},
        {"Offline store", offline},
        {"Created", FormatEpoch(g.creation_time)},
    };
    if (!g.description.empty()) kv.emplace_back("Description", g.description);
    if (std::string_view reason = GetString(d, "FailureReason"); !reason.empty()) {
      kv.emplace_back("Failure reason", std::string(reason));
    }
    PrintKeyValues(stdout, kv);
    std::fputc('\n', stdout);
    PrintTable(stdout, t, TerminalWidth(stdout));
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string format_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Command> NewDescribeCommand(CLI::App* app) {
  return std::make_unique<DescribeCommand>(app);
}

}  // namespace larder::cli
