// `larder get NAME ID [--feature F ...]`: GetRecord from the online store.
#include <fmt/format.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

class GetCommand final : public Command {
 public:
  explicit GetCommand(CLI::App* app) {
    sub_ = app->add_subcommand("get", "Read one record from the online store (GetRecord)");
    sub_->add_option("name", name_, "Feature group name or ARN")->required();
    sub_->add_option("id", id_, "Record identifier value")->required();
    sub_->add_option("--feature", features_, "Only these features (repeatable)");
    sub_->add_flag("--expires-at", expires_, "Also show when the record expires (TTL)");
    AddFormatFlag(sub_, &format_, {"table", "json", "csv"});
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "--format json prints {\"feature\": \"value\", ...} (lists as arrays). A missing record "
        "exits with status 1.\nExample:\n  larder get customer-features C0042 --feature "
        "loyalty_score");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    return s.ok() ? kExitOk : Fail("get", s);
  }

 private:
  Status RunOrError() {
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));
    std::string target =
        "/FeatureGroup/" + UriEncode(name_) + "?RecordIdentifierValueAsString=" + UriEncode(id_);
    for (const std::string& f : features_) target += "&FeatureName=" + UriEncode(f);
    if (expires_) target += "&ExpirationTimeResponse=Enabled";
    ASSIGN_OR_RETURN(rapidjson::Document d, client.CallRest("GET", target, "", "GetRecord"));
    const rapidjson::Value* record = GetMember(d, "Record");
    if (record == nullptr || !record->IsArray()) {
      return Status::NotFound(
          fmt::format("feature group '{}' has no record '{}' in its online store", name_, id_));
    }
    rapidjson::Document out;
    out.SetObject();
    auto& alloc = out.GetAllocator();
    Table t;
    t.header = {"FEATURE", "VALUE"};
    for (const rapidjson::Value& fv : record->GetArray()) {
      const std::string_view feature = GetString(fv, "FeatureName");
      rapidjson::Value key(feature.data(), static_cast<rapidjson::SizeType>(feature.size()), alloc);
      if (const rapidjson::Value* list = GetMember(fv, "ValueAsStringList")) {
        std::string shown = "[";
        if (list->IsArray()) {
          for (const rapidjson::Value& e : list->GetArray()) {
            if (shown.size() > 1) shown += ", ";
            shown += e.IsString() ? e.GetString() : "null";
          }
        }
        shown += "]";
        t.rows.push_back({std::string(feature), shown});
        out.AddMember(key, rapidjson::Value(*list, alloc), alloc);
        continue;
      }
      const std::string_view value = GetString(fv, "ValueAsString");
      t.rows.push_back({std::string(feature), std::string(value)});
      out.AddMember(
          key,
          rapidjson::Value(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc),
          alloc);
    }
    if (const std::string_view exp = GetString(d, "ExpiresAt"); !exp.empty()) {
      t.rows.push_back({"(expires at)", std::string(exp)});
    }
    if (format_ == "json") {
      PrintJson(stdout, out);
    } else if (format_ == "csv") {
      PrintCsv(stdout, t);
    } else {
      PrintTable(stdout, t, TerminalWidth(stdout));
    }
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string format_;
  std::string name_;
  std::string id_;
  std::vector<std::string> features_;
  bool expires_ = false;
};

}  // namespace

std::unique_ptr<Command> NewGetCommand(CLI::App* app) { return std::make_unique<GetCommand>(app); }

}  // namespace larder::cli
