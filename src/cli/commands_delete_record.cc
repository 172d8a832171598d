// `larder delete-record NAME ID [--event-time T] [--hard]`: DeleteRecord.
#include <fmt/format.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

class DeleteRecordCommand final : public Command {
 public:
  explicit DeleteRecordCommand(CLI::App* app) {
    sub_ = app->add_subcommand("delete-record", "Delete one record (DeleteRecord)");
    sub_->add_option("name", name_, "Feature group name or ARN")->required();
    sub_->add_option("id", id_, "Record identifier value")->required();
    sub_->add_option("--event-time", event_time_,
                     "The deletion's event time, in the group's event-time format (default: now)");
    sub_->add_flag("--hard", hard_,
                   "HardDelete: remove the online row (default SoftDelete: the record reads as "
                   "missing). Both add an is_deleted marker to the offline store");
    sub_->add_option("--target-stores", target_stores_, "OnlineStore and/or OfflineStore")
        ->check(CLI::IsMember({"OnlineStore", "OfflineStore"}));
    AddClientFlags(sub_, &flags_);
    sub_->footer("Example:\n  larder delete-record customer-features C0042 --hard");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("delete-record", s);
  }

 private:
  Status RunOrError() {
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    std::string event_time = event_time_;
    if (event_time.empty()) {
      ASSIGN_OR_RETURN(rapidjson::Document d, DescribeGroup(&client, name_));
      ASSIGN_OR_RETURN(catalog::FeatureGroup g, GroupFromDescribe(d));
      event_time = NowEventTime(g.FindFeature(g.event_time_feature_name)->type);
    }
    std::string target = fmt::format(
        "/FeatureGroup/{}?RecordIdentifierValueAsString={}&EventTime={}&DeletionMode={}",
        UriEncode(name_), UriEncode(id_), UriEncode(event_time),
        hard_ ? "HardDelete" : "SoftDelete");
    for (const std::string& s : target_stores_) target += "&TargetStores=" + UriEncode(s);
    ASSIGN_OR_RETURN(rapidjson::Document reply,
                     client.CallRest("DELETE", target, "", "DeleteRecord"));
    fmt::print(stderr, "deleted record '{}' from '{}' ({}, event time {})\n", id_, name_,
               hard_ ? "HardDelete" : "SoftDelete", event_time);
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string name_;
  std::string id_;
  std::string event_time_;
  bool hard_ = false;
  std::vector<std::string> target_stores_;
};

}  // namespace

std::unique_ptr<Command> NewDeleteRecordCommand(CLI::App* app) {
  return std::make_unique<DeleteRecordCommand>(app);
}

}  // namespace larder::cli
