// Where the offline store keeps its files (docs/offline-store.md), mirroring SageMaker's Glue
// layout under the data directory instead of S3:
//
//   <data_dir>/offline/<account>/sagemaker/<region>/offline-store/<name>-<creationEpochSec>/data/
//       year=YYYY/month=MM/day=DD/hour=HH/<YYYYMMDDTHHMMSSZ of latest event>_<16 alnum>.parquet
//   <data_dir>/offline/_flush/        intent files of flushes and compactions in progress
//
// Thread-safety: values and pure functions.
#ifndef LARDER_OFFLINE_OFFLINE_LAYOUT_H_
#define LARDER_OFFLINE_OFFLINE_LAYOUT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::offline {

// The civil UTC time of an instant, for partition and file names.
struct UtcTime {
  int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int micros = 0;
};
UtcTime ToUtc(int64_t micros_since_epoch);

class OfflineLayout {
 public:
  // `data_dir` is the server's data directory; `account_id` and `region` the ones in ARNs.
  OfflineLayout(std::string data_dir, std::string account_id, std::string region);

  // InvalidArgument unless account and region are plain path segments ([A-Za-z0-9-]+).
  Status Validate() const;

  const std::string& data_dir() const { return data_dir_; }
  // <data_dir>/offline
  std::string OfflineDir() const;
  // <data_dir>/offline/<account>/sagemaker/<region>/offline-store
  std::string StoreDir() const;
  // <data_dir>/offline/_flush
  std::string IntentDir() const;

  // "<name>-<floor(creation_time)>", the group's directory under StoreDir(). InvalidArgument if
  // the name could leave that directory (only [A-Za-z0-9_-] is accepted).
  static StatusOr<std::string> GroupRoot(const catalog::FeatureGroup& group);
  // <StoreDir>/<root>/data
  std::string DataDir(std::string_view root) const;

  // "year=YYYY/month=MM/day=DD/hour=HH" of an event time.
  static std::string Partition(int64_t event_time_micros);
  // "<YYYYMMDDTHHMMSSZ>_<suffix>.parquet" for the latest event time in the file.
  static std::string FileName(int64_t latest_event_micros, std::string_view suffix);
  // The latest-event stamp at the start of a file name made by FileName ("20240102T030405Z"), or
  // "" if `name` has another form.
  static std::string_view FileStamp(std::string_view name);

 private:
  std::string data_dir_;
  std::string account_id_;
  std::string region_;
};

// The Athena table of a group with an offline store: its DataCatalogConfig TableName, or
// "<name>_<floor(creation_time)>" when that is empty.
std::string TableNameOf(const catalog::FeatureGroup& group);
// The Athena database of a group: its DataCatalogConfig Database, or "sagemaker_featurestore".
std::string DatabaseOf(const catalog::FeatureGroup& group);

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_OFFLINE_LAYOUT_H_
