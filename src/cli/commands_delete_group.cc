// `larder delete-feature-group NAME`: DeleteFeatureGroup, then wait until it is gone.
#include <fmt/format.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

class DeleteGroupCommand final : public Command {
 public:
  explicit DeleteGroupCommand(CLI::App* app) {
    sub_ = app->add_subcommand(
        "delete-feature-group",
        "Delete a feature group (DeleteFeatureGroup): its online data goes; its offline Parquet "
        "files stay");
    sub_->add_option("name", name_, "Feature group name")->required();
    sub_->add_flag("--no-wait", no_wait_, "Return at once instead of waiting until it is gone");
    sub_->add_option("--wait-timeout", wait_timeout_, "Seconds to wait for the deletion")
        ->capture_default_str();
    AddClientFlags(sub_, &flags_);
    sub_->footer("Example:\n  larder delete-feature-group customer-features");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("delete-feature-group", s);
  }

 private:
  Status RunOrError() {
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("FeatureGroupName");
    WriteString(w, name_);
    w.EndObject();
    ASSIGN_OR_RETURN(rapidjson::Document reply,
                     client.SageMaker("DeleteFeatureGroup", {sb.GetString(), sb.GetSize()}));
    if (no_wait_) {
      fmt::print(stderr, "deleting feature group '{}'\n", name_);
      return Status::OK();
    }
    StatusOr<rapidjson::Document> d = WaitWhileStatus(&client, name_, "Deleting", wait_timeout_);
    if (d.ok()) {
      return Status::FailedPrecondition(fmt::format("feature group '{}' ended in status {}: {}",
                                                    name_, GetString(*d, "FeatureGroupStatus"),
                                                    GetString(*d, "FailureReason")));
    }
    if (d.status().code() != StatusCode::kNotFound) return d.status();
    fmt::print(stderr, "deleted feature group '{}'\n", name_);
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string name_;
  bool no_wait_ = false;
  double wait_timeout_ = 300;
};

}  // namespace

std::unique_ptr<Command> NewDeleteFeatureGroupCommand(CLI::App* app) {
  return std::make_unique<DeleteGroupCommand>(app);
}

}  // namespace larder::cli
