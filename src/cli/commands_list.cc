// `larder list`: ListFeatureGroups, following NextToken through every page.
#include <fmt/format.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

constexpr int kPageSize = 100;  // ListFeatureGroups' MaxResults maximum

class ListCommand final : public Command {
 public:
  explicit ListCommand(CLI::App* app) {
    sub_ = app->add_subcommand("list", "List feature groups (ListFeatureGroups, every page)");
    sub_->add_option("--name-contains", name_contains_, "Only groups whose name contains this");
    sub_->add_option("--status", status_,
                     "Only groups in this status (Creating, Created, CreateFailed, Deleting, "
                     "DeleteFailed)");
    sub_->add_option("--sort-by", sort_by_,
                     "Name, FeatureGroupStatus, OfflineStoreStatus or "
                     "CreationTime")
        ->check(CLI::IsMember({"Name", "FeatureGroupStatus", "OfflineStoreStatus", "CreationTime"}))
        ->capture_default_str();
    sub_->add_option("--sort-order", sort_order_, "Ascending or Descending")
        ->check(CLI::IsMember({"Ascending", "Descending"}))
        ->capture_default_str();
    sub_->add_option("--limit", limit_, "Stop after this many groups (0 = all)");
    AddFormatFlag(sub_, &format_, {"table", "json", "csv"});
    AddClientFlags(sub_, &flags_);
    sub_->footer("Example:\n  larder list --sort-by CreationTime --sort-order Descending");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("list", s);
  }

 private:
  Status RunOrError() {
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    rapidjson::Document all;
    all.SetArray();
    auto& alloc = all.GetAllocator();
    std::string token;
    do {
      rapidjson::StringBuffer sb;
      JsonWriter w(sb);
      w.StartObject();
      w.Key("MaxResults");
      w.Int(kPageSize);
      w.Key("SortBy");
      WriteString(w, sort_by_);
      w.Key("SortOrder");
      WriteString(w, sort_order_);
      if (!name_contains_.empty()) {
        w.Key("NameContains");
        WriteString(w, name_contains_);
      }
      if (!status_.empty()) {
        w.Key("FeatureGroupStatusEquals");
        WriteString(w, status_);
      }
      if (!token.empty()) {
        w.Key("NextToken");
        WriteString(w, token);
      }
      w.EndObject();
      ASSIGN_OR_RETURN(rapidjson::Document page,
                       client.SageMaker("ListFeatureGroups", {sb.GetString(), sb.GetSize()}));
      if (const rapidjson::Value* list = GetMember(page, "FeatureGroupSummaries");
          list != nullptr && list->IsArray()) {
        for (const rapidjson::Value& g : list->GetArray()) {
          if (limit_ > 0 && all.Size() >= static_cast<rapidjson::SizeType>(limit_)) break;
          all.PushBack(rapidjson::Value(g, alloc), alloc);
        }
      }
      token = std::string(GetString(page, "NextToken"));
    } while (!token.empty() &&
             (limit_ <= 0 || all.Size() < static_cast<rapidjson::SizeType>(limit_)));

    if (format_ == "json") {
      PrintJson(stdout, all);
      return Status::OK();
    }
    Table t;
    t.header = {"NAME", "STATUS", "OFFLINE", "CREATED"};
    for (const rapidjson::Value& g : all.GetArray()) {
      const rapidjson::Value* off = GetMember(g, "OfflineStoreStatus");
      t.rows.push_back({std::string(GetString(g, "FeatureGroupName")),
                        std::string(GetString(g, "FeatureGroupStatus")),
                        off != nullptr ? std::string(GetString(*off, "Status")) : std::string(),
                        FormatEpoch(GetNumber(g, "CreationTime"))});
    }
    if (format_ == "csv") {
      PrintCsv(stdout, t);
    } else {
      PrintTable(stdout, t, TerminalWidth(stdout));
    }
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string format_;
  std::string name_contains_;
  std::string status_;
  std::string sort_by_ = "CreationTime";
  std::string sort_order_ = "Descending";
  int limit_ = 0;
};

}  // namespace

std::unique_ptr<Command> NewListCommand(CLI::App* app) {
  return std::make_unique<ListCommand>(app);
}

}  // namespace larder::cli
