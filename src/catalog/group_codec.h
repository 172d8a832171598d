// The on-disk form of one FeatureGroup: a self-describing JSON document with a format version.
// Used by the file store (catalog_store.cc) and usable by any other CatalogStore.
//
// Thread-safety: pure functions.
#ifndef LARDER_CATALOG_GROUP_CODEC_H_
#define LARDER_CATALOG_GROUP_CODEC_H_

#include <string>
#include <string_view>

#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::catalog {

// Serializes every field of `group` (the derived name index is rebuilt on decode).
std::string EncodeGroup(const FeatureGroup& group);

// Parses what EncodeGroup wrote and calls BuildIndex(). Corruption (naming `what`, e.g. the
// file path) when the text is not a complete document of a known format version.
StatusOr<FeatureGroup> DecodeGroup(std::string_view text, std::string_view what);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_GROUP_CODEC_H_
