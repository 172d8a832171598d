#include "catalog/feature_group.h"

namespace larder::catalog {

std::string_view FeatureTypeName(FeatureType t) {
  switch (t) {
    case FeatureType::kIntegral: return "Integral";
    case FeatureType::kFractional: return "Fractional";
    case FeatureType::kString: return "String";
  }
  return "";
}

std::string_view CollectionTypeName(CollectionType t) {
  switch (t) {
    case CollectionType::kNone: return "";
    case CollectionType::kList: return "List";
    case CollectionType::kSet: return "Set";
    case CollectionType::kVector: return "Vector";
  }
  return "";
}

std::string_view TtlUnitName(TtlUnit u) {
  switch (u) {
    case TtlUnit::kSeconds: return "Seconds";
    case TtlUnit::kMinutes: return "Minutes";
    case TtlUnit::kHours: return "Hours";
    case TtlUnit::kDays: return "Days";
    case TtlUnit::kWeeks: return "Weeks";
  }
  return "";
}

std::string_view GroupStatusName(GroupStatus s) {
  switch (s) {
    case GroupStatus::kCreating: return "Creating";
    case GroupStatus::kCreated: return "Created";
    case GroupStatus::kCreateFailed: return "CreateFailed";
    case GroupStatus::kDeleting: return "Deleting";
    case GroupStatus::kDeleteFailed: return "DeleteFailed";
  }
  return "";
}

std::optional<FeatureType> FeatureTypeFromName(std::string_view name) {
  for (FeatureType t : {FeatureType::kIntegral, FeatureType::kFractional, FeatureType::kString}) {
    if (FeatureTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<CollectionType> CollectionTypeFromName(std::string_view name) {
  for (CollectionType t : {CollectionType::kList, CollectionType::kSet, CollectionType::kVector}) {
    if (CollectionTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<TtlUnit> TtlUnitFromName(std::string_view name) {
  for (TtlUnit u : {TtlUnit::kSeconds, TtlUnit::kMinutes, TtlUnit::kHours, TtlUnit::kDays,
                    TtlUnit::kWeeks}) {
    if (TtlUnitName(u) == name) return u;
  }
  return std::nullopt;
}

std::optional<GroupStatus> GroupStatusFromName(std::string_view name) {
  for (GroupStatus s : {GroupStatus::kCreating, GroupStatus::kCreated, GroupStatus::kCreateFailed,
                        GroupStatus::kDeleting, GroupStatus::kDeleteFailed}) {
    if (GroupStatusName(s) == name) return s;
  }
  return std::nullopt;
}

int64_t TtlDuration::Seconds() const {
  switch (unit) {
    case TtlUnit::kSeconds: return value;
    case TtlUnit::kMinutes: return value * 60;
    case TtlUnit::kHours: return value * 3600;
    case TtlUnit::kDays: return value * 86400;
    case TtlUnit::kWeeks: return value * 604800;
  }
  return value;
}

int FeatureGroup::FeatureIndex(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? -1 : it->second;
}

const FeatureDefinition* FeatureGroup::FindFeature(std::string_view name) const {
  int i = FeatureIndex(name);
  return i < 0 ? nullptr : &features[static_cast<size_t>(i)];
}

void FeatureGroup::BuildIndex() {
  index_.clear();
  for (size_t i = 0; i < features.size(); ++i) index_.emplace(features[i].name, static_cast<int>(i));
  record_id_index_ = FeatureIndex(record_identifier_name);
  event_time_index_ = FeatureIndex(event_time_feature_name);
}

}  // namespace larder::catalog
