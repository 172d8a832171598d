// Plumbing shared by the client subcommands: error reporting, JSON building, reading a
// DescribeFeatureGroup reply, waiting for a group's status.
//
// Thread-safety: pure functions unless stated; the AwsClient passed in is used from the
// calling thread only.
#ifndef LARDER_CLI_COMMAND_UTIL_H_
#define LARDER_CLI_COMMAND_UTIL_H_

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "catalog/feature_group.h"
#include "cli/client.h"
#include "larder/status.h"

namespace larder::cli {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Prints "larder <command>: <message>" to stderr and returns kExitFailed.
int Fail(std::string_view command, const Status& status);

// Writes a std::string_view as a JSON string.
void WriteString(JsonWriter& w, std::string_view s);

// Member access that tolerates absence: "" / 0 / nullptr when missing or of another type.
std::string_view GetString(const rapidjson::Value& obj, const char* name);
double GetNumber(const rapidjson::Value& obj, const char* name);
bool GetBool(const rapidjson::Value& obj, const char* name);
const rapidjson::Value* GetMember(const rapidjson::Value& obj, const char* name);

// The definition a DescribeFeatureGroup reply describes (name, features, identifier, event
// time, stores, status), with its index built. InvalidArgument when the reply lacks them.
StatusOr<catalog::FeatureGroup> GroupFromDescribe(const rapidjson::Value& describe);

// DescribeFeatureGroup `name`.
StatusOr<rapidjson::Document> DescribeGroup(AwsClient* client, std::string_view name);

// Polls DescribeFeatureGroup until the group leaves `transitional` ("Creating", "Deleting"),
// for at most `timeout_seconds`. Returns the reply that ended the wait, NotFound once the group
// is gone, or DeadlineExceeded naming the status it was stuck in.
StatusOr<rapidjson::Document> WaitWhileStatus(AwsClient* client, std::string_view name,
                                              std::string_view transitional,
                                              double timeout_seconds);

// The current time as a value of an event-time feature of type `type`: ISO-8601 with
// milliseconds for String ("2024-05-01T12:00:00.123Z"), Unix seconds for Fractional.
std::string NowEventTime(catalog::FeatureType type);

// "7d" / "12h" / "30m" / "45s" / "2w" -> {"Days", 7}... InvalidArgument naming `flag`.
StatusOr<catalog::TtlDuration> ParseTtl(std::string_view text, std::string_view flag);

}  // namespace larder::cli

#endif  // LARDER_CLI_COMMAND_UTIL_H_
