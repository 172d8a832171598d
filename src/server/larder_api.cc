#include "server/larder_api.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>

#include "common/status_macros.h"
#include "server/error_map.h"

namespace larder::server {
namespace {

using rapidjson::Value;

constexpr std::string_view kTargetPrefix = "Larder.";

// The request body's members, with errors that name the member and the bad value.
class Reader {
 public:
  explicit Reader(const Value& obj, std::string path = "") : obj_(obj), path_(std::move(path)) {}

  const Value* Get(const char* key) const {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }
  std::string Name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  StatusOr<std::optional<std::string>> OptString(const char* key) const {
    const Value* v = Get(key);
    if (v == nullptr) return std::optional<std::string>();
    if (!v->IsString()) return Status::InvalidArgument(fmt::format("member '{}' must be a string", Name(key)));
    return std::optional<std::string>(std::string(v->GetString(), v->GetStringLength()));
  }
  StatusOr<std::string> String(const char* key) const {
    ASSIGN_OR_RETURN(std::optional<std::string> s, OptString(key));
    return s.value_or("");
  }
  StatusOr<bool> Bool(const char* key, bool dflt) const {
    const Value* v = Get(key);
    if (v == nullptr) return dflt;
    if (!v->IsBool()) return Status::InvalidArgument(fmt::format("member '{}' must be true or false", Name(key)));
    return v->GetBool();
  }
  StatusOr<std::optional<int64_t>> OptInt(const char* key) const {
    const Value* v = Get(key);
    if (v == nullptr) return std::optional<int64_t>();
    if (!v->IsInt64()) return Status::InvalidArgument(fmt::format("member '{}' must be an integer", Name(key)));
    return std::optional<int64_t>(v->GetInt64());
  }
  // Epoch seconds (fraction allowed), as boto sends timestamps; returns microseconds.
  StatusOr<std::optional<int64_t>> OptTime(const char* key) const {
    const Value* v = Get(key);
    if (v == nullptr) return std::optional<int64_t>();
    if (!v->IsNumber() || !std::isfinite(v->GetDouble()) || std::fabs(v->GetDouble()) > 3e11) {
      return Status::InvalidArgument(
          fmt::format("member '{}' must be a timestamp in epoch seconds", Name(key)));
    }
    return std::optional<int64_t>(std::llround(v->GetDouble() * 1e6));
  }
  StatusOr<std::vector<std::string>> Strings(const char* key) const {
    std::vector<std::string> out;
    const Value* v = Get(key);
    if (v == nullptr) return out;
    if (!v->IsArray()) return Status::InvalidArgument(fmt::format("member '{}' must be a list of strings", Name(key)));
    for (const Value& item : v->GetArray()) {
      if (!item.IsString()) {
        return Status::InvalidArgument(fmt::format("member '{}' must be a list of strings", Name(key)));
      }
      out.emplace_back(item.GetString(), item.GetStringLength());
    }
    return out;
  }
  template <typename T>
  StatusOr<std::optional<T>> Enum(const char* key, std::optional<T> (*parse)(std::string_view),
                                  std::string_view allowed) const {
    ASSIGN_OR_RETURN(std::optional<std::string> s, OptString(key));
    if (!s) return std::optional<T>();
    std::optional<T> v = parse(*s);
    if (!v) {
      return Status::InvalidArgument(
          fmt::format("member '{}' is '{}'; expected one of {}", Name(key), *s, allowed));
    }
    return v;
  }

 private:
  const Value& obj_;
  const std::string path_;
};

bool Within(const std::string& path, const std::string& root) {
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

// realpath(3); nullopt when the path does not exist.
std::optional<std::string> Canonical(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return std::nullopt;
  std::string out(resolved);
  ::free(resolved);
  return out;
}

}  // namespace

LarderApi::LarderApi(const catalog::CatalogReader* catalog, offline::Flusher* flusher,
                     LarderApiOptions options, std::unique_ptr<offline::DatasetBuilder> builder)
    : catalog_(catalog),
      flusher_(flusher),
      options_(std::move(options)),
      layout_(options_.data_dir, options_.account_id, options_.region),
      builder_(std::move(builder)),
      rng_(std::random_device{}()) {}

StatusOr<std::unique_ptr<LarderApi>> LarderApi::Create(const catalog::CatalogReader* catalog,
                                                       offline::Flusher* flusher,
                                                       LarderApiOptions options) {
  if (options.data_dir.empty()) return Status::InvalidArgument("larder api: data_dir is required");
  if (options.max_concurrent_builds < 1) {
    return Status::InvalidArgument(fmt::format(
        "larder api: max_concurrent_builds must be at least 1, got {}", options.max_concurrent_builds));
  }
  for (const std::string& d : options.allowed_base_dirs) {
    if (d.empty() || d.front() != '/') {
      return Status::InvalidArgument(
          fmt::format("dataset base directory '{}' must be an absolute path", d));
    }
  }
  std::error_code ec;
  for (const char* sub : {"/uploads", "/datasets"}) {
    std::filesystem::create_directories(options.data_dir + sub, ec);
    if (ec) {
      return Status::IOError(fmt::format("cannot create '{}{}': {}", options.data_dir, sub, ec.message()));
    }
  }
  offline::DatasetBuilderOptions b;
  b.memory_limit_bytes = options.memory_limit_bytes;
  b.threads = options.threads;
  b.temp_directory = options.data_dir + "/tmp/datasets";
  ASSIGN_OR_RETURN(auto builder, offline::DatasetBuilder::Open(b));
  offline::OfflineLayout layout(options.data_dir, options.account_id, options.region);
  RETURN_IF_ERROR(layout.Validate());
  return std::unique_ptr<LarderApi>(new LarderApi(catalog, flusher, std::move(options), std::move(builder)));
}

std::string LarderApi::UploadsDir() const { return options_.data_dir + "/uploads"; }
std::string LarderApi::DatasetsDir() const { return options_.data_dir + "/datasets"; }

void LarderApi::Handle(const HttpRequest& req, HttpResponse* resp) {
  const std::string* target = req.Header("x-amz-target");
  std::string_view op = target != nullptr && target->starts_with(kTargetPrefix)
                            ? std::string_view(*target).substr(kTargetPrefix.size())
                            : std::string_view();
  resp->operation.assign(op);
  resp->content_type = "application/x-amz-json-1.1";
  if (op != "CreateDataset") {
    WriteError(400, "UnknownOperationException",
               fmt::format("Unknown operation '{}'; Larder serves Larder.CreateDataset",
                           target != nullptr ? *target : ""),
               resp);
    return;
  }
  StatusOr<std::string> body = CreateDataset(req.body);
  if (!body.ok()) {
    WriteStatus(Protocol::kControlPlane, body.status(), resp);
    return;
  }
  resp->status = 200;
  resp->body = std::move(*body);
}

StatusOr<std::string> LarderApi::ResolveBasePath(const std::string& path) const {
  if (path.empty()) return Status::InvalidArgument("member 'Base.Path' is required");
  if (path.find('\0') != std::string::npos) return Status::InvalidArgument("member 'Base.Path' holds a NUL byte");
  std::string candidate = path.front() == '/' ? path : UploadsDir() + "/" + path;
  std::optional<std::string> real = Canonical(candidate);
  if (!real) {
    return Status::InvalidArgument(fmt::format(
        "base file '{}' does not exist (relative paths are read from DATA_DIR/uploads)", path));
  }
  std::vector<std::string> roots = {UploadsDir()};
  roots.insert(roots.end(), options_.allowed_base_dirs.begin(), options_.allowed_base_dirs.end());
  for (const std::string& root : roots) {
    std::optional<std::string> r = Canonical(root);
    if (r && Within(*real, *r)) return *real;
  }
  return Status::PermissionDenied(fmt::format(
      "base file '{}' is outside the directories Larder reads base files from: DATA_DIR/uploads "
      "and the directories given with --dataset-base-dir",
      path));
}

std::string LarderApi::NewDatasetId() {
  MutexLock l(&mu_);
  return fmt::format("ds-{:016x}", rng_());
}

StatusOr<std::string> LarderApi::CreateDataset(const std::string& body) {
  rapidjson::Document doc;
  // Iterative: nesting depth costs pool memory, not stack (hostile bodies stay 400s).
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(body.c_str(),
                                                                                    body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::InvalidArgument(fmt::format(
        "the request body is not a JSON object{}",
        doc.HasParseError() ? std::string(": ") + rapidjson::GetParseError_En(doc.GetParseError()) : ""));
  }
  Reader top(doc);
  offline::DatasetSpec spec;

  // Which groups the request names, resolved once; files are read after the freshness barrier.
  std::vector<catalog::GroupPtr> groups;
  auto lookup = [this](const std::string& name, std::string_view member) -> StatusOr<catalog::GroupPtr> {
    if (name.empty()) return Status::InvalidArgument(fmt::format("member '{}' is required", member));
    ASSIGN_OR_RETURN(catalog::GroupPtr g, catalog_->Lookup(name));
    if (!g->offline_enabled) {
      return Status::InvalidArgument(fmt::format(
          "feature group '{}' has no offline store, so it has no rows for a dataset", g->name));
    }
    return g;
  };

  const Value* base = top.Get("Base");
  ASSIGN_OR_RETURN(std::string base_group_name, top.String("BaseFeatureGroupName"));
  if ((base != nullptr) == !base_group_name.empty()) {
    return Status::InvalidArgument("give exactly one of 'Base' (a file) and 'BaseFeatureGroupName'");
  }
  catalog::GroupPtr base_group;
  if (base != nullptr) {
    if (!base->IsObject()) return Status::InvalidArgument("member 'Base' must be an object");
    Reader b(*base, "Base");
    offline::BaseFile file;
    ASSIGN_OR_RETURN(std::string path, b.String("Path"));
    ASSIGN_OR_RETURN(file.path, ResolveBasePath(path));
    ASSIGN_OR_RETURN(std::optional<offline::OutputFormat> format,
                     b.Enum<offline::OutputFormat>("Format", offline::OutputFormatFromName, "csv, parquet"));
    if (format) file.format = *format == offline::OutputFormat::kCsv ? offline::BaseFormat::kCsv
                                                                    : offline::BaseFormat::kParquet;
    ASSIGN_OR_RETURN(file.record_identifier, b.String("RecordIdentifierFeatureName"));
    ASSIGN_OR_RETURN(file.event_time, b.String("EventTimeFeatureName"));
    ASSIGN_OR_RETURN(file.columns, b.Strings("Columns"));
    spec.base_file = std::move(file);
  } else {
    ASSIGN_OR_RETURN(base_group, lookup(base_group_name, "BaseFeatureGroupName"));
    ASSIGN_OR_RETURN(spec.base_group_features, top.Strings("BaseFeatureNames"));
  }

  const Value* fgs = top.Get("FeatureGroups");
  if (fgs != nullptr && !fgs->IsArray()) return Status::InvalidArgument("member 'FeatureGroups' must be a list");
  if (fgs != nullptr) {
    size_t i = 0;
    for (const Value& item : fgs->GetArray()) {
      std::string where = fmt::format("FeatureGroups[{}]", i++);
      if (!item.IsObject()) return Status::InvalidArgument(fmt::format("member '{}' must be an object", where));
      Reader r(item, where);
      offline::GroupJoin j;
      ASSIGN_OR_RETURN(std::string name, r.String("FeatureGroupName"));
      ASSIGN_OR_RETURN(catalog::GroupPtr g, lookup(name, where + ".FeatureGroupName"));
      groups.push_back(g);
      ASSIGN_OR_RETURN(j.features, r.Strings("FeatureNames"));
      ASSIGN_OR_RETURN(j.base_column, r.String("TargetFeatureNameInBase"));
      ASSIGN_OR_RETURN(j.target_feature, r.String("FeatureNameInTarget"));
      ASSIGN_OR_RETURN(std::optional<offline::JoinComparator> cmp,
                       r.Enum<offline::JoinComparator>("JoinComparator", offline::JoinComparatorFromName,
                                                       "EQUALS, NOT_EQUAL_TO, LESS_THAN, LESS_THAN_OR_EQUAL_TO, "
                                                       "GREATER_THAN, GREATER_THAN_OR_EQUAL_TO"));
      if (cmp) j.comparator = *cmp;
      ASSIGN_OR_RETURN(j.join_type, r.Enum<offline::JoinType>("JoinType", offline::JoinTypeFromName,
                                                              "INNER_JOIN, LEFT_JOIN, RIGHT_JOIN, FULL_JOIN"));
      spec.groups.push_back(std::move(j));
    }
  }
  ASSIGN_OR_RETURN(std::optional<offline::JoinMode> mode,
                   top.Enum<offline::JoinMode>("JoinMode", offline::JoinModeFromName, "AsOf, AllMatches"));
  if (mode) spec.join_mode = *mode;
  ASSIGN_OR_RETURN(spec.point_in_time, top.Bool("PointInTimeAccurateJoin", true));
  ASSIGN_OR_RETURN(spec.include_deleted, top.Bool("IncludeDeletedRecords", false));
  ASSIGN_OR_RETURN(spec.include_duplicates, top.Bool("IncludeDuplicatedRecords", false));
  ASSIGN_OR_RETURN(spec.as_of_micros, top.OptTime("AsOf"));
  ASSIGN_OR_RETURN(spec.event_time_start_micros, top.OptTime("EventTimeStart"));
  ASSIGN_OR_RETURN(spec.event_time_end_micros, top.OptTime("EventTimeEnd"));
  ASSIGN_OR_RETURN(spec.recent, top.OptInt("NumberOfRecentRecords"));
  ASSIGN_OR_RETURN(spec.limit, top.OptInt("NumberOfRecords"));
  ASSIGN_OR_RETURN(std::optional<offline::ColumnNaming> naming,
                   top.Enum<offline::ColumnNaming>("ColumnNaming", offline::ColumnNamingFromName, "Sdk, Plain"));
  if (naming) spec.naming = *naming;
  ASSIGN_OR_RETURN(std::optional<offline::OutputFormat> out_format,
                   top.Enum<offline::OutputFormat>("OutputFormat", offline::OutputFormatFromName, "csv, parquet"));
  if (out_format) spec.format = *out_format;

  {
    MutexLock l(&mu_);
    if (running_ >= options_.max_concurrent_builds) {
      return Status::Unavailable(fmt::format(
          "{} dataset build(s) are running, the most this server runs at once; retry later", running_));
    }
    ++running_;
  }
  struct Release {
    LarderApi* api;
    ~Release() {
      MutexLock l(&api->mu_);
      --api->running_;
    }
  } release{this};

  // Freshness barrier, then one consistent set of files.
  std::unique_ptr<offline::FileManifest::Snapshot> snapshot;
  if (flusher_ != nullptr) {
    RETURN_IF_ERROR(flusher_->Sync().WithPrefix("flushing recent writes before the dataset"));
    snapshot = flusher_->manifest()->Acquire();
  }
  auto files_of = [&](const catalog::GroupPtr& g) -> StatusOr<offline::GroupData> {
    offline::GroupData d;
    d.group = g;
    ASSIGN_OR_RETURN(std::string root, offline::OfflineLayout::GroupRoot(*g));
    if (snapshot != nullptr) {
      for (const offline::OfflineFile& f : snapshot->Files(root)) d.files.push_back(f.path);
    } else {
      ASSIGN_OR_RETURN(d.files, offline::ListParquetFiles(layout_.DataDir(root)));
    }
    return d;
  };
  if (base_group != nullptr) {
    ASSIGN_OR_RETURN(offline::GroupData d, files_of(base_group));
    spec.base_group = std::move(d);
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    ASSIGN_OR_RETURN(spec.groups[i].data, files_of(groups[i]));
  }

  const std::string id = NewDatasetId();
  spec.output_path = fmt::format("{}/{}.{}", DatasetsDir(), id, offline::OutputFormatName(spec.format));
  ASSIGN_OR_RETURN(offline::DatasetResult result, builder_->Build(spec));

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("DatasetId");
  w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
  w.Key("OutputPath");
  w.String(spec.output_path.c_str(), static_cast<rapidjson::SizeType>(spec.output_path.size()));
  w.Key("RowCount");
  w.Int64(result.rows);
  w.Key("Columns");
  w.StartArray();
  for (const std::string& c : result.columns) w.String(c.c_str(), static_cast<rapidjson::SizeType>(c.size()));
  w.EndArray();
  w.Key("ElapsedMillis");
  w.Int64(result.elapsed_micros / 1000);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace larder::server
