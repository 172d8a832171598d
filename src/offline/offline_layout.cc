#include "offline/offline_layout.h"

#include <fmt/format.h>

#include <cmath>

namespace larder::offline {
namespace {

bool IsSafeSegment(std::string_view s, bool allow_underscore) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || (allow_underscore && c == '_');
    if (!ok) return false;
  }
  return true;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t EpochSeconds(double creation_time) {
  return static_cast<int64_t>(std::floor(creation_time));
}

}  // namespace

UtcTime ToUtc(int64_t micros) {
  UtcTime t;
  int64_t secs = FloorDiv(micros, 1'000'000);
  t.micros = static_cast<int>(micros - secs * 1'000'000);
  int64_t days = FloorDiv(secs, 86'400);
  int64_t rem = secs - days * 86'400;
  t.hour = static_cast<int>(rem / 3600);
  t.minute = static_cast<int>(rem % 3600 / 60);
  t.second = static_cast<int>(rem % 60);
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719'468;
  int64_t era = FloorDiv(z, 146'097);
  int64_t doe = z - era * 146'097;
  int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2 ? 1 : 0);
  return t;
}

OfflineLayout::OfflineLayout(std::string data_dir, std::string account_id, std::string region)
    : data_dir_(std::move(data_dir)),
      account_id_(std::move(account_id)),
      region_(std::move(region)) {
  while (data_dir_.size() > 1 && data_dir_.back() == '/') data_dir_.pop_back();
}

Status OfflineLayout::Validate() const {
  if (data_dir_.empty())
    return Status::InvalidArgument("offline store: the data directory is empty");
  if (!IsSafeSegment(account_id_, false)) {
    return Status::InvalidArgument(
        fmt::format("offline store: account id '{}' is not a plain path segment", account_id_));
  }
  if (!IsSafeSegment(region_, false)) {
    return Status::InvalidArgument(
        fmt::format("offline store: region '{}' is not a plain path segment", region_));
  }
  return Status::OK();
}

std::string OfflineLayout::OfflineDir() const { return data_dir_ + "/offline"; }

std::string OfflineLayout::StoreDir() const {
  return fmt::format("{}/offline/{}/sagemaker/{}/offline-store", data_dir_, account_id_, region_);
}

std::string OfflineLayout::IntentDir() const { return data_dir_ + "/offline/_flush"; }

StatusOr<std::string> OfflineLayout::GroupRoot(const catalog::FeatureGroup& group) {
  if (!IsSafeSegment(group.name, true)) {
    return Status::InvalidArgument(fmt::format(
        "offline store: feature group name '{}' cannot be used as a directory name", group.name));
  }
  return fmt::format("{}-{}", group.name, EpochSeconds(group.creation_time));
}

std::string OfflineLayout::DataDir(std::string_view root) const {
  return fmt::format("{}/{}/data", StoreDir(), root);
}

std::string OfflineLayout::Partition(int64_t event_time_micros) {
  UtcTime t = ToUtc(event_time_micros);
  return fmt::format("year={:04d}/month={:02d}/day={:02d}/hour={:02d}", t.year, t.month, t.day,
                     t.hour);
}

std::string OfflineLayout::FileName(int64_t latest_event_micros, std::string_view suffix) {
  UtcTime t = ToUtc(latest_event_micros);
  return fmt::format("{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z_{}.parquet", t.year, t.month, t.day,
                     t.hour, t.minute, t.second, suffix);
}

std::string_view OfflineLayout::FileStamp(std::string_view name) {
  size_t us = name.find('_');
  if (us != 16 || name.size() < 17 || name[8] != 'T' || name[15] != 'Z') return "";
  return name.substr(0, 16);
}

std::string TableNameOf(const catalog::FeatureGroup& group) {
  if (!group.table_name.empty()) return group.table_name;
  return fmt::format("{}_{}", group.name, EpochSeconds(group.creation_time));
}

std::string DatabaseOf(const catalog::FeatureGroup& group) {
  return group.data_database.empty() ? "sagemaker_featurestore" : group.data_database;
}

}  // namespace larder::offline
