// `larder put NAME --record k=v ... | --json '{...}'`: PutRecord.
#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include "cli/command_util.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

// The text a JSON scalar stands for in ValueAsString: strings as they are, numbers as written
// (parsed with kParseNumbersAsStringsFlag), booleans "true"/"false".
StatusOr<std::string> ScalarText(const rapidjson::Value& v, std::string_view feature) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return std::string(v.GetBool() ? "true" : "false");
  return Status::InvalidArgument(fmt::format(
      "--json: feature '{}' must be a string, a number, a boolean, null or a list of those",
      feature));
}

class PutCommand final : public Command {
 public:
  explicit PutCommand(CLI::App* app) {
    sub_ = app->add_subcommand("put", "Write one record (PutRecord)");
    sub_->add_option("name", name_, "Feature group name or ARN")->required();
    auto* rec = sub_->add_option("--record", pairs_, "FEATURE=VALUE (repeatable)");
    auto* json = sub_->add_option("--json", json_,
                                  "The record as a JSON object: {\"feature\": value, ...}; lists "
                                  "become ValueAsStringList");
    rec->excludes(json);
    sub_->add_option("--target-stores", target_stores_, "OnlineStore and/or OfflineStore")
        ->check(CLI::IsMember({"OnlineStore", "OfflineStore"}));
    sub_->add_option("--ttl", ttl_, "Time to live of this record: 30m, 12h, 7d, 2w...");
    AddClientFlags(sub_, &flags_);
    sub_->footer(
        "Without the event-time feature, the current time is used (ISO-8601 for a String event "
        "time, Unix seconds for Fractional).\nExamples:\n"
        "  larder put customer-features --record customer_id=C0042 --record loyalty_score=0.95\n"
        "  larder put customer-features --json '{\"customer_id\": \"C0042\", \"loyalty_score\": "
        "0.95}'");
  }

  bool Selected() const override { return sub_->parsed(); }

  int Run() override {
    Status s = RunOrError();
    if (!s.ok()) return Fail("put", s);
    return kExitOk;
  }

 private:
  using Values = std::vector<std::pair<std::string, std::vector<std::string>>>;  // list = 1+ items

  Status ParseValues(Values* values, std::vector<bool>* is_list) {
    if (!json_.empty()) {
      rapidjson::Document d;
      d.Parse<rapidjson::kParseNumbersAsStringsFlag>(json_.c_str(), json_.size());
      if (d.HasParseError() || !d.IsObject()) {
        return Status::InvalidArgument(fmt::format(
            "--json must be a JSON object{}",
            d.HasParseError()
                ? fmt::format(" ({} at byte {})", rapidjson::GetParseError_En(d.GetParseError()),
                              d.GetErrorOffset())
                : ""));
      }
      const rapidjson::Document& doc = d;  // const iterators (clang's C++20 operator!=)
      for (const auto& m : doc.GetObject()) {
        const std::string name(m.name.GetString(), m.name.GetStringLength());
        if (m.value.IsNull()) continue;
        std::vector<std::string> items;
        if (m.value.IsArray()) {
          for (const rapidjson::Value& e : m.value.GetArray()) {
            ASSIGN_OR_RETURN(std::string s, ScalarText(e, name));
            items.push_back(std::move(s));
          }
          is_list->push_back(true);
        } else {
          ASSIGN_OR_RETURN(std::string s, ScalarText(m.value, name));
          items.push_back(std::move(s));
          is_list->push_back(false);
        }
        values->emplace_back(name, std::move(items));
      }
      return Status::OK();
    }
    for (const std::string& p : pairs_) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument(fmt::format("--record must be FEATURE=VALUE, got '{}'", p));
      }
      values->emplace_back(p.substr(0, eq), std::vector<std::string>{p.substr(eq + 1)});
      is_list->push_back(false);
    }
    return Status::OK();
  }

  Status RunOrError() {
    if (pairs_.empty() && json_.empty()) {
      return Status::InvalidArgument("give the record with --record FEATURE=VALUE or --json");
    }
    Values values;
    std::vector<bool> is_list;
    RETURN_IF_ERROR(ParseValues(&values, &is_list));
    ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags_));
    AwsClient client(std::move(config));

    // Fill in the event time when it was left out.
    ASSIGN_OR_RETURN(rapidjson::Document d, DescribeGroup(&client, name_));
    ASSIGN_OR_RETURN(catalog::FeatureGroup g, GroupFromDescribe(d));
    bool has_event_time = false;
    for (const auto& [name, items] : values) has_event_time |= name == g.event_time_feature_name;
    if (!has_event_time) {
      const catalog::FeatureDefinition* et = g.FindFeature(g.event_time_feature_name);
      values.emplace_back(g.event_time_feature_name,
                          std::vector<std::string>{NowEventTime(et->type)});
      is_list.push_back(false);
    }

    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    w.Key("Record");
    w.StartArray();
    for (size_t i = 0; i < values.size(); ++i) {
      w.StartObject();
      w.Key("FeatureName");
      WriteString(w, values[i].first);
      if (is_list[i]) {
        w.Key("ValueAsStringList");
        w.StartArray();
        for (const std::string& s : values[i].second) WriteString(w, s);
        w.EndArray();
      } else {
        w.Key("ValueAsString");
        WriteString(w, values[i].second.front());
      }
      w.EndObject();
    }
    w.EndArray();
    if (!target_stores_.empty()) {
      w.Key("TargetStores");
      w.StartArray();
      for (const std::string& s : target_stores_) WriteString(w, s);
      w.EndArray();
    }
    if (!ttl_.empty()) {
      ASSIGN_OR_RETURN(catalog::TtlDuration ttl, ParseTtl(ttl_, "--ttl"));
      w.Key("TtlDuration");
      w.StartObject();
      w.Key("Unit");
      WriteString(w, catalog::TtlUnitName(ttl.unit));
      w.Key("Value");
      w.Int64(ttl.value);
      w.EndObject();
    }
    w.EndObject();
    ASSIGN_OR_RETURN(rapidjson::Document reply,
                     client.CallRest("PUT", "/FeatureGroup/" + UriEncode(name_),
                                     {sb.GetString(), sb.GetSize()}, "PutRecord"));
    fmt::print(stderr, "wrote 1 record to '{}'\n", name_);
    return Status::OK();
  }

  CLI::App* sub_;
  ClientFlags flags_;
  std::string name_;
  std::vector<std::string> pairs_;
  std::string json_;
  std::vector<std::string> target_stores_;
  std::string ttl_;
};

}  // namespace

std::unique_ptr<Command> NewPutCommand(CLI::App* app) { return std::make_unique<PutCommand>(app); }

}  // namespace larder::cli
