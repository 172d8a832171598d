#include "server/runtime_api.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <deque>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/record.h"
#include "common/status_macros.h"
#include "server/error_map.h"

namespace larder::server {
namespace {

using catalog::FeatureGroup;
using catalog::FeatureValueInput;
using catalog::GroupPtr;

// ---- Model constraints (sagemaker-featurestore-runtime/2020-07-01). ----

constexpr size_t kMaxGroupNameOrArn = 150;
constexpr size_t kMaxFeatureName = 64;
constexpr size_t kMaxValueChars = 358400;
constexpr size_t kMaxValueList = 358400;
constexpr size_t kMaxBatchGetIdentifiers = 100;  // model: per entry and entries; quota: in total
constexpr size_t kMaxBatchWriteEntries = 25;
constexpr int64_t kMaxListResults = 100;
constexpr size_t kMaxNextToken = 8192;
constexpr std::string_view kGroupPattern =
    "(arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:feature-group/)?"
    "([a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63})";
constexpr std::string_view kFeaturePattern = "^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}";

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}, the whole string.
bool MatchesName(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  int alnum = 0;
  for (char c : s) {
    if (IsAlnum(c)) {
      ++alnum;
    } else if (c != '-' && c != '_') {
      return false;
    }
  }
  return alnum <= 64;
}

// kGroupPattern, the whole string.
bool MatchesGroupNameOrArn(std::string_view s) {
  if (s.substr(0, 4) != "arn:") return MatchesName(s);
  size_t i = 0;
  auto consume = [&](std::string_view lit) {
    if (s.substr(i, lit.size()) != lit) return false;
    i += lit.size();
    return true;
  };
  auto span = [&](auto pred) {
    size_t start = i;
    while (i < s.size() && pred(s[i])) ++i;
    return i - start;
  };
  if (!consume("arn:aws")) return false;
  span([](char c) { return (c >= 'a' && c <= 'z') || c == '-'; });
  if (!consume(":sagemaker:")) return false;
  span([](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
  if (!consume(":")) return false;
  if (span([](char c) { return c >= '0' && c <= '9'; }) != 12) return false;
  if (!consume(":feature-group/")) return false;
  return MatchesName(s.substr(i));
}

// Characters, as AWS counts string lengths (code points of valid UTF-8).
size_t CharCount(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

// Collects constraint violations and renders them as AWS does:
//   1 validation error detected: Value 'x' at 'featureGroupName' failed to satisfy constraint: ...
class Violations {
 public:
  void Constraint(std::string_view value, std::string_view path, std::string_view constraint) {
    constexpr size_t kMaxShown = 256;
    std::string shown(value.substr(0, kMaxShown));
    if (value.size() > kMaxShown) shown += "...";
    errors_.push_back("Value '" + shown + "' at '" + std::string(path) +
                      "' failed to satisfy constraint: " + std::string(constraint));
  }
  void Null(std::string_view path) {
    errors_.push_back("Value null at '" + std::string(path) +
                      "' failed to satisfy constraint: Member must not be null");
  }
  void Type(std::string_view path, std::string_view what) {
    errors_.push_back("Value at '" + std::string(path) +
                      "' failed to satisfy constraint: Member must be " + std::string(what));
  }
  void Length(std::string_view value, std::string_view path, size_t len, size_t min, size_t max) {
    if (len < min) {
      Constraint(value, path,
                 "Member must have length greater than or equal to " + std::to_string(min));
    } else if (len > max) {
      Constraint(value, path,
                 "Member must have length less than or equal to " + std::to_string(max));
    }
  }
  void Enum(std::string_view value, std::string_view path,
            std::initializer_list<std::string_view> set) {
    for (std::string_view e : set) {
      if (value == e) return;
    }
    std::string text = "Member must satisfy enum value set: [";
    bool first = true;
    for (std::string_view e : set) {
      if (!first) text += ", ";
      text += e;
      first = false;
    }
    text += "]";
    Constraint(value, path, text);
  }
  void GroupName(std::string_view value, std::string_view path) {
    size_t before = errors_.size();
    Length(value, path, CharCount(value), 1, kMaxGroupNameOrArn);
    if (errors_.size() == before && !MatchesGroupNameOrArn(value)) {
      Constraint(value, path,
                 "Member must satisfy regular expression pattern: " + std::string(kGroupPattern));
    }
  }
  void FeatureName(std::string_view value, std::string_view path) {
    size_t before = errors_.size();
    Length(value, path, CharCount(value), 1, kMaxFeatureName);
    if (errors_.size() == before && !MatchesName(value)) {
      Constraint(value, path,
                 "Member must satisfy regular expression pattern: " + std::string(kFeaturePattern));
    }
  }
  void ValueString(std::string_view value, std::string_view path) {
    if (value.size() > kMaxValueChars && CharCount(value) > kMaxValueChars) {
      Constraint(value, path,
                 "Member must have length less than or equal to " + std::to_string(kMaxValueChars));
    }
  }

  bool empty() const { return errors_.empty(); }
  Status ToStatus() const {
    std::string msg =
        std::to_string(errors_.size()) +
        (errors_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (size_t i = 0; i < errors_.size(); ++i) {
      if (i > 0) msg += "; ";
      msg += errors_[i];
    }
    return Status::InvalidArgument(std::move(msg));
  }

 private:
  std::vector<std::string> errors_;
};

std::string Path(std::string_view parent, std::string_view child) {
  std::string p(parent);
  if (!p.empty()) p += '.';
  p += child;
  return p;
}

std::string Member(std::string_view list_path, size_t index0) {
  return std::string(list_path) + "." + std::to_string(index0 + 1) + ".member";
}

// ---- JSON in: an in-situ parse whose DOM lives in stack buffers (no per-node allocation). ----

using PoolAllocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using JsonDocument = rapidjson::GenericDocument<rapidjson::UTF8<>, PoolAllocator, PoolAllocator>;
using JsonValue = rapidjson::GenericValue<rapidjson::UTF8<>, PoolAllocator>;

// The request body parsed in situ into a per-thread copy. The DOM and the strings it points to
// are valid while this object lives. Not copyable; one per request.
class JsonBody {
 public:
  explicit JsonBody(std::string_view body)
      : pool_(pool_buf_, sizeof(pool_buf_)),
        stack_pool_(stack_buf_, sizeof(stack_buf_)),
        doc_(&pool_, kStackCapacity, &stack_pool_) {
    std::string& buf = Buffer();
    size_t first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
      doc_.SetObject();  // an empty body is an empty request
      return;
    }
    buf.assign(body);
    // Iterative parsing: nesting depth costs heap (the pool), never the thread's stack, so a
    // hostile body of a million '[' is an ordinary validation error. The pool allocator frees
    // without recursing, so destroying such a DOM is flat too.
    doc_.ParseInsitu<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
        buf.data());
    if (doc_.HasParseError()) {
      error_ = Status::InvalidArgument(std::string("request body is not valid JSON: ") +
                                       rapidjson::GetParseError_En(doc_.GetParseError()) +
                                       " (at byte " + std::to_string(doc_.GetErrorOffset()) + ")");
    } else if (!doc_.IsObject()) {
      error_ = Status::InvalidArgument("request body must be a JSON object");
    }
  }
  ~JsonBody() {
    std::string& buf = Buffer();
    if (buf.capacity() > kKeepBufferBytes) std::string().swap(buf);  // do not hoard big bodies
  }
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  const Status& status() const { return error_; }
  const JsonValue& root() const { return doc_; }

 private:
  static constexpr size_t kStackCapacity = 1024;
  static constexpr size_t kKeepBufferBytes = 1u << 20;
  static std::string& Buffer() {
    thread_local std::string buffer;
    return buffer;
  }

  alignas(16) char pool_buf_[16 * 1024];
  alignas(16) char stack_buf_[4 * 1024];
  PoolAllocator pool_;
  PoolAllocator stack_pool_;
  JsonDocument doc_;
  Status error_;
};

std::string_view Str(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

// The member `name` of object `obj`, or nullptr when absent or JSON null.
const JsonValue* Find(const JsonValue& obj, std::string_view name) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (Str(it->name) == name) return it->value.IsNull() ? nullptr : &it->value;
  }
  return nullptr;
}

// ---- JSON out: rapidjson::Writer straight into the response body. ----

class BodySink {
 public:
  using Ch = char;
  explicit BodySink(std::string* out) : out_(out) {}
  void Put(char c) { out_->push_back(c); }
  void Flush() {}

 private:
  std::string* out_;
};
using JsonWriter = rapidjson::Writer<BodySink>;

void WriteStr(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// ---- Request pieces shared by several operations. ----

struct TargetStores {
  bool given = false;
  bool online = false;
  bool offline = false;
};

void ParseTargetStoreName(std::string_view s, std::string_view path, Violations* v,
                          TargetStores* ts) {
  v->Enum(s, path, {"OnlineStore", "OfflineStore"});
  if (s == "OnlineStore") ts->online = true;
  if (s == "OfflineStore") ts->offline = true;
}

void ParseTargetStores(const JsonValue* j, std::string_view path, Violations* v, TargetStores* ts) {
  if (j == nullptr) return;
  if (!j->IsArray()) return v->Type(path, "a list");
  ts->given = true;
  v->Length("[...]", path, j->Size(), 1, 2);
  for (rapidjson::SizeType i = 0; i < j->Size(); ++i) {
    const JsonValue& e = (*j)[i];
    if (!e.IsString()) {
      v->Type(Member(path, i), "a string");
      continue;
    }
    ParseTargetStoreName(Str(e), Member(path, i), v, ts);
  }
}

std::optional<catalog::TtlDuration> ParseTtl(const JsonValue* j, std::string_view path,
                                             Violations* v) {
  if (j == nullptr) return std::nullopt;
  if (!j->IsObject()) {
    v->Type(path, "a structure");
    return std::nullopt;
  }
  catalog::TtlDuration ttl;
  bool ok = true;
  const JsonValue* unit = Find(*j, "Unit");
  const std::string unit_path = Path(path, "unit");
  if (unit == nullptr) {
    v->Null(unit_path);
    ok = false;
  } else if (!unit->IsString()) {
    v->Type(unit_path, "a string");
    ok = false;
  } else {
    std::optional<catalog::TtlUnit> u = catalog::TtlUnitFromName(Str(*unit));
    if (!u) {
      v->Enum(Str(*unit), unit_path, {"Seconds", "Minutes", "Hours", "Days", "Weeks"});
      ok = false;
    } else {
      ttl.unit = *u;
    }
  }
  const JsonValue* value = Find(*j, "Value");
  const std::string value_path = Path(path, "value");
  if (value == nullptr) {
    v->Null(value_path);
    ok = false;
  } else if (!value->IsInt64()) {
    v->Type(value_path, "an integer");
    ok = false;
  } else if (value->GetInt64() < 1) {
    v->Constraint(std::to_string(value->GetInt64()), value_path,
                  "Member must have value greater than or equal to 1");
    ok = false;
  } else if (value->GetInt64() > std::numeric_limits<int32_t>::max()) {
    v->Constraint(std::to_string(value->GetInt64()), value_path,
                  "Member must have value less than or equal to 2147483647");
    ok = false;
  } else {
    ttl.value = value->GetInt64();
  }
  if (!ok) return std::nullopt;
  return ttl;
}

// Record: a list of FeatureValue {FeatureName*, ValueAsString, ValueAsStringList}. Views point
// into the JSON body.
void ParseRecord(const JsonValue* j, std::string_view path, Violations* v,
                 std::vector<FeatureValueInput>* out) {
  if (j == nullptr) return v->Null(path);
  if (!j->IsArray()) return v->Type(path, "a list");
  if (j->Empty())
    return v->Constraint("[]", path, "Member must have length greater than or equal to 1");
  out->reserve(j->Size());
  for (rapidjson::SizeType i = 0; i < j->Size(); ++i) {
    const JsonValue& fv = (*j)[i];
    const std::string fv_path = Member(path, i);
    if (!fv.IsObject()) {
      v->Type(fv_path, "a structure");
      continue;
    }
    FeatureValueInput& in = out->emplace_back();
    const JsonValue* name = Find(fv, "FeatureName");
    if (name == nullptr) {
      v->Null(Path(fv_path, "featureName"));
    } else if (!name->IsString()) {
      v->Type(Path(fv_path, "featureName"), "a string");
    } else {
      in.name = Str(*name);
      v->FeatureName(in.name, Path(fv_path, "featureName"));
    }
    if (const JsonValue* s = Find(fv, "ValueAsString")) {
      if (!s->IsString()) {
        v->Type(Path(fv_path, "valueAsString"), "a string");
      } else {
        in.has_scalar = true;
        in.scalar = Str(*s);
        v->ValueString(in.scalar, Path(fv_path, "valueAsString"));
      }
    }
    if (const JsonValue* l = Find(fv, "ValueAsStringList")) {
      const std::string list_path = Path(fv_path, "valueAsStringList");
      if (!l->IsArray()) {
        v->Type(list_path, "a list");
      } else {
        in.has_list = true;
        if (l->Size() > kMaxValueList) {
          v->Constraint(
              "[...]", list_path,
              "Member must have length less than or equal to " + std::to_string(kMaxValueList));
        }
        in.list.reserve(l->Size());
        for (rapidjson::SizeType k = 0; k < l->Size(); ++k) {
          const JsonValue& e = (*l)[k];
          if (e.IsNull()) {
            in.list_has_null = true;
          } else if (!e.IsString()) {
            v->Type(Member(list_path, k), "a string");
          } else {
            in.list.push_back(Str(e));
            v->ValueString(in.list.back(), Member(list_path, k));
          }
        }
      }
    }
  }
}

// The label of /FeatureGroup/{label}, percent-decoded (into *storage only when it has escapes)
// and checked against the model.
std::string_view DecodeGroupLabel(std::string_view raw, Violations* v, std::string* storage) {
  std::string_view name = raw;
  if (raw.find('%') != std::string_view::npos) {
    if (!PercentDecode(raw, storage)) {
      v->Constraint(raw, "featureGroupName", "Member must be percent-encoded UTF-8");
      return raw;
    }
    name = *storage;
  }
  v->GroupName(name, "featureGroupName");
  return name;
}

// Calls fn(key, value) for each parameter of a raw query string, in order, repeats kept. Only
// parts with escapes are decoded, into `storage`, so the views stay valid as long as the request
// and `storage` do. False on a malformed escape.
template <typename Fn>
bool ForEachQueryParam(std::string_view query, std::deque<std::string>* storage, Fn fn) {
  auto decode = [&](std::string_view raw, std::string_view* out) {
    *out = raw;
    if (raw.find('%') == std::string_view::npos) return true;
    if (!PercentDecode(raw, &storage->emplace_back())) return false;
    *out = storage->back();
    return true;
  };
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string_view key, value;
    if (!decode(part.substr(0, eq), &key)) return false;
    if (eq != std::string_view::npos && !decode(part.substr(eq + 1), &value)) return false;
    fn(key, value);
  }
  return true;
}

Status NotCreated(const FeatureGroup& g) {
  return Status::FailedPrecondition("feature group '" + g.name + "' is not ready: its status is " +
                                    std::string(catalog::GroupStatusName(g.status)) +
                                    "; runtime calls need status Created");
}

Status NoOnlineStore(const FeatureGroup& g, std::string_view operation) {
  return Status::FailedPrecondition("feature group '" + g.name + "' has no online store, so " +
                                    std::string(operation) + " cannot read from it");
}

// A group the runtime may use: it exists and is Created (and has an online store if asked).
StatusOr<GroupPtr> ResolveGroup(const catalog::CatalogReader* catalog, std::string_view name,
                                std::string_view read_operation) {
  ASSIGN_OR_RETURN(GroupPtr g, catalog->Lookup(name));
  if (g->status != catalog::GroupStatus::kCreated) return NotCreated(*g);
  if (!read_operation.empty() && !g->online_enabled) return NoOnlineStore(*g, read_operation);
  return g;
}

// PutRecord reports an unknown group as ValidationError with the NotFound message (spec 1.3).
Status AsValidation(const Status& s) {
  if (s.code() == StatusCode::kNotFound) return Status::InvalidArgument(s.message());
  return s;
}

bool HasOfflineStore(const FeatureGroup& g) {
  return g.offline_enabled && g.online_storage_type != "InMemory";  // InMemory: no replication
}

// Which stores a write touches: the request's TargetStores, else every store the group has.
Status ResolveStores(const FeatureGroup& g, const TargetStores& ts, bool* online, bool* offline) {
  const bool has_online = g.online_enabled;
  const bool has_offline = HasOfflineStore(g);
  if (!ts.given) {
    *online = has_online;
    *offline = has_offline;
    return Status::OK();
  }
  if (ts.online && !has_online) {
    return Status::InvalidArgument("TargetStores includes OnlineStore but feature group '" +
                                   g.name + "' has no online store");
  }
  if (ts.offline && !has_offline) {
    return Status::InvalidArgument("TargetStores includes OfflineStore but feature group '" +
                                   g.name + "' has no offline store" +
                                   (g.offline_enabled ? " replication (InMemory storage)" : ""));
  }
  *online = ts.online;
  *offline = ts.offline;
  return Status::OK();
}

// EventTime + TTL, saturating at the largest representable time.
int64_t ExpiresAt(int64_t event_time_micros, const catalog::TtlDuration& ttl) {
  constexpr int64_t kMicros = 1'000'000;
  const int64_t seconds = ttl.Seconds();
  const int64_t max = std::numeric_limits<int64_t>::max();
  if (seconds > (max - std::max<int64_t>(event_time_micros, 0)) / kMicros) return max;
  return event_time_micros + seconds * kMicros;
}

// Validates a PutRecord (or one BatchWriteRecord entry) against `g` and builds its mutation.
Status BuildPut(const FeatureGroup& g, const std::vector<FeatureValueInput>& values,
                const TargetStores& ts, const std::optional<catalog::TtlDuration>& ttl,
                int64_t api_time, online::Mutation* m) {
  bool online = false, offline = false;
  RETURN_IF_ERROR(ResolveStores(g, ts, &online, &offline));
  ASSIGN_OR_RETURN(catalog::Record record, catalog::BuildRecord(g, values));
  m->kind = online::Mutation::Kind::kPut;
  m->group_id = g.id;
  m->online = online;
  m->offline = offline;
  m->api_invocation_time_micros = api_time;
  m->event_time_micros = record.event_time_micros;
  m->record.clear();
  catalog::EncodeRecord(record, &m->record);
  const std::optional<catalog::TtlDuration>& effective = ttl ? ttl : g.ttl;
  if (online && effective) {
    const int64_t expires = ExpiresAt(record.event_time_micros, *effective);
    m->expires_at_micros = expires;
    if (HasOfflineStore(g)) {
      const catalog::FeatureDefinition& et = g.features[static_cast<size_t>(g.event_time_index())];
      const std::string text = catalog::FormatEventTimeLike(
          et.type, catalog::ScalarAt(record, g.event_time_index()), expires);
      catalog::EncodeRecord(
          catalog::MakeMarker(g, catalog::ScalarAt(record, g.record_identifier_index()), text,
                              expires),
          &m->expiry_marker);
    }
  }
  m->identifier = std::move(record.values[static_cast<size_t>(g.record_identifier_index())].scalar);
  return Status::OK();
}

// The stored form of an identifier sent for lookup (Integral "1.0" is stored as "1"). A value
// that is not valid for the identifier's type cannot be stored, so it is looked up as is.
std::string_view LookupIdentifier(const FeatureGroup& g, std::string_view raw,
                                  std::string* scratch) {
  const int rid = g.record_identifier_index();
  if (rid < 0 || g.features[static_cast<size_t>(rid)].type != catalog::FeatureType::kIntegral)
    return raw;
  if (!catalog::CanonicalizeScalar(g.record_identifier_name, catalog::FeatureType::kIntegral, raw,
                                   scratch)
           .ok()) {
    return raw;
  }
  return *scratch;
}

// Feature indexes to return, from a FeatureNames projection; empty `names` means all.
Status Projection(const FeatureGroup& g, const std::vector<std::string_view>& names,
                  std::vector<bool>* keep) {
  keep->clear();
  if (names.empty()) return Status::OK();
  keep->assign(g.features.size(), false);
  for (std::string_view n : names) {
    int i = g.FeatureIndex(n);
    if (i < 0) {
      return Status::InvalidArgument("feature '" + std::string(n) +
                                     "' is not defined in feature group '" + g.name + "'");
    }
    (*keep)[static_cast<size_t>(i)] = true;
  }
  return Status::OK();
}

// Writes "Record": [...] for the stored record bytes (null features omitted). Returns
// Corruption if the bytes do not decode.
Status WriteRecord(JsonWriter& w, const FeatureGroup& g, std::string_view bytes,
                   const std::vector<bool>& keep) {
  w.Key("Record");
  w.StartArray();
  catalog::RecordReader r(bytes);
  while (r.Next()) {
    const size_t i = static_cast<size_t>(r.index());
    if (i >= g.features.size() || r.kind() == catalog::Value::Kind::kNull) continue;
    if (!keep.empty() && !keep[i]) continue;
    w.StartObject();
    w.Key("FeatureName");
    WriteStr(w, g.features[i].name);
    if (r.kind() == catalog::Value::Kind::kScalar) {
      w.Key("ValueAsString");
      WriteStr(w, r.scalar());
    } else {
      w.Key("ValueAsStringList");
      w.StartArray();
      std::string_view e;
      while (r.NextElement(&e)) WriteStr(w, e);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  return r.status();
}

void WriteExpiresAt(JsonWriter& w, const online::StoredRecord& rec, bool enabled) {
  if (!enabled || !rec.expires_at_micros) return;
  w.Key("ExpiresAt");
  WriteStr(w, catalog::FormatIsoMillis(*rec.expires_at_micros));
}

std::string_view ErrorCodeFor(const Status& s) {
  return s.code() == StatusCode::kNotFound ? "ResourceNotFound"
                                           : MapStatus(Protocol::kRuntime, s.code()).code;
}

constexpr char kHex[] = "0123456789abcdef";

std::string EncodeToken(std::string_view identifier) {
  std::string t;
  t.reserve(identifier.size() * 2);
  for (char c : identifier) {
    t.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
    t.push_back(kHex[static_cast<uint8_t>(c) & 15]);
  }
  return t;
}

bool DecodeToken(std::string_view token, std::string* identifier) {
  if (token.size() % 2 != 0) return false;
  identifier->clear();
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < token.size(); i += 2) {
    int hi = nibble(token[i]), lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) return false;
    identifier->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

void Fail(const Status& s, HttpResponse* resp) { WriteStatus(Protocol::kRuntime, s, resp); }

}  // namespace

RuntimeApi::RuntimeApi(const catalog::CatalogReader* catalog, online::OnlineStore* store,
                       const Clock* clock)
    : catalog_(catalog), store_(store), clock_(clock) {}

int64_t RuntimeApi::ApiTime(const HttpRequest& req) const {
  return req.received_micros != 0 ? req.received_micros : clock_->NowMicros();
}

void RuntimeApi::Handle(const HttpRequest& req, HttpResponse* resp) {
  constexpr std::string_view kGroupPrefix = "/FeatureGroup/";
  const std::string_view path = req.path();
  const std::string_view method = req.method;
  if (path == "/BatchGetRecord" && method == "POST") return BatchGetRecord(req, resp);
  if (path == "/BatchWriteRecord" && method == "POST") return BatchWriteRecord(req, resp);
  if (path.substr(0, kGroupPrefix.size()) == kGroupPrefix) {
    std::string_view rest = path.substr(kGroupPrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos && !rest.empty()) {
      if (method == "PUT") return PutRecord(rest, req, resp);
      if (method == "GET") return GetRecord(rest, req, resp);
      if (method == "DELETE") return DeleteRecord(rest, req, resp);
    } else if (slash != std::string_view::npos && slash > 0 &&
               rest.substr(slash) == "/ListRecords" && method == "POST") {
      return ListRecords(rest.substr(0, slash), req, resp);
    }
  }
  WriteError(404, "UnknownOperationException",
             "no SageMaker Feature Store runtime operation matches " + std::string(method) + " " +
                 std::string(path),
             resp);
}

void RuntimeApi::PutRecord(std::string_view label, const HttpRequest& req, HttpResponse* resp) {
  resp->operation = "PutRecord";
  Violations v;
  std::string storage;
  const std::string_view name = DecodeGroupLabel(label, &v, &storage);
  JsonBody body(req.body);
  if (!body.status().ok()) return Fail(body.status(), resp);
  std::vector<FeatureValueInput> values;
  ParseRecord(Find(body.root(), "Record"), "record", &v, &values);
  TargetStores ts;
  ParseTargetStores(Find(body.root(), "TargetStores"), "targetStores", &v, &ts);
  std::optional<catalog::TtlDuration> ttl =
      ParseTtl(Find(body.root(), "TtlDuration"), "ttlDuration", &v);
  if (!v.empty()) return Fail(v.ToStatus(), resp);

  StatusOr<GroupPtr> group = ResolveGroup(catalog_, name, "");
  if (!group.ok()) return Fail(AsValidation(group.status()), resp);
  std::vector<online::Mutation> m(1);
  Status s = BuildPut(**group, values, ts, ttl, ApiTime(req), &m[0]);
  if (!s.ok()) return Fail(s, resp);
  std::vector<online::Outcome> outcomes;
  s = store_->Write(m, &outcomes);
  if (!s.ok()) return Fail(s, resp);
  resp->status = 200;
  resp->body.clear();
}

void RuntimeApi::GetRecord(std::string_view label, const HttpRequest& req, HttpResponse* resp) {
  resp->operation = "GetRecord";
  Violations v;
  std::string storage;
  const std::string_view name = DecodeGroupLabel(label, &v, &storage);
  std::deque<std::string> decoded;
  std::optional<std::string_view> identifier;
  std::vector<std::string_view> feature_names;
  bool expiration = false;
  const bool query_ok =
      ForEachQueryParam(req.query(), &decoded, [&](std::string_view k, std::string_view val) {
        if (k == "RecordIdentifierValueAsString") {
          identifier = val;
          v.ValueString(val, "recordIdentifierValueAsString");
        } else if (k == "FeatureName") {
          v.FeatureName(val, Member("featureNames", feature_names.size()));
          feature_names.push_back(val);
        } else if (k == "ExpirationTimeResponse") {
          v.Enum(val, "expirationTimeResponse", {"Enabled", "Disabled"});
          expiration = val == "Enabled";
        }
      });
  if (!query_ok) {
    return Fail(Status::InvalidArgument("the query string is not valid percent-encoding"), resp);
  }
  if (!identifier) v.Null("recordIdentifierValueAsString");
  if (!v.empty()) return Fail(v.ToStatus(), resp);

  StatusOr<GroupPtr> group = ResolveGroup(catalog_, name, "GetRecord");
  if (!group.ok()) return Fail(group.status(), resp);
  const FeatureGroup& g = **group;
  std::vector<bool> keep;
  Status s = Projection(g, feature_names, &keep);
  if (!s.ok()) return Fail(s, resp);
  std::string scratch;
  std::string_view id = LookupIdentifier(g, *identifier, &scratch);

  std::string& out = resp->body;
  out.clear();
  out.reserve(512);
  BodySink sink(&out);
  JsonWriter w(sink);
  Status decode;
  StatusOr<bool> found = store_->Get(g.id, id, [&](const online::StoredRecord& rec) {
    w.StartObject();
    decode = WriteRecord(w, g, rec.record, keep);
    WriteExpiresAt(w, rec, expiration);
    w.EndObject();
  });
  if (!found.ok()) return Fail(found.status(), resp);
  if (!decode.ok()) return Fail(decode, resp);
  if (!*found) out = "{}";  // a missing record is 200 {}
  resp->status = 200;
}

void RuntimeApi::DeleteRecord(std::string_view label, const HttpRequest& req, HttpResponse* resp) {
  resp->operation = "DeleteRecord";
  Violations v;
  std::string storage;
  const std::string_view name = DecodeGroupLabel(label, &v, &storage);
  std::deque<std::string> decoded;
  std::optional<std::string_view> identifier;
  std::optional<std::string_view> event_time;
  TargetStores ts;
  size_t n_stores = 0;
  bool hard = false;
  const bool query_ok =
      ForEachQueryParam(req.query(), &decoded, [&](std::string_view k, std::string_view val) {
        if (k == "RecordIdentifierValueAsString") {
          identifier = val;
          v.ValueString(val, "recordIdentifierValueAsString");
        } else if (k == "EventTime") {
          event_time = val;
          v.ValueString(val, "eventTime");
        } else if (k == "TargetStores") {
          ts.given = true;
          ParseTargetStoreName(val, Member("targetStores", n_stores++), &v, &ts);
        } else if (k == "DeletionMode") {
          v.Enum(val, "deletionMode", {"SoftDelete", "HardDelete"});
          hard = val == "HardDelete";
        }
      });
  if (!query_ok) {
    return Fail(Status::InvalidArgument("the query string is not valid percent-encoding"), resp);
  }
  if (n_stores > 2)
    v.Constraint("[...]", "targetStores", "Member must have length less than or equal to 2");
  if (!identifier) v.Null("recordIdentifierValueAsString");
  if (!event_time) v.Null("eventTime");
  if (!v.empty()) return Fail(v.ToStatus(), resp);

  StatusOr<GroupPtr> group = ResolveGroup(catalog_, name, "");
  if (!group.ok()) return Fail(AsValidation(group.status()), resp);
  const FeatureGroup& g = **group;
  std::vector<online::Mutation> m(1);
  online::Mutation& del = m[0];
  Status s = ResolveStores(g, ts, &del.online, &del.offline);
  if (!s.ok()) return Fail(s, resp);
  const catalog::FeatureDefinition& rid =
      g.features[static_cast<size_t>(g.record_identifier_index())];
  s = catalog::CanonicalizeScalar(rid.name, rid.type, *identifier, &del.identifier);
  if (s.ok() && del.identifier.empty()) {
    s = Status::InvalidArgument("the record identifier feature '" + rid.name +
                                "' must not be empty");
  } else if (s.ok() && del.identifier.size() > catalog::kMaxIdentifierBytes) {
    s = Status::InvalidArgument("the record identifier feature '" + rid.name + "' has a value of " +
                                std::to_string(del.identifier.size()) + " bytes; the limit is " +
                                std::to_string(catalog::kMaxIdentifierBytes) + " bytes");
  }
  if (!s.ok()) return Fail(s, resp);
  const catalog::FeatureDefinition& et = g.features[static_cast<size_t>(g.event_time_index())];
  StatusOr<int64_t> micros = catalog::ParseEventTime(et.name, et.type, *event_time);
  if (!micros.ok()) return Fail(micros.status(), resp);
  del.kind = hard ? online::Mutation::Kind::kHardDelete : online::Mutation::Kind::kSoftDelete;
  del.group_id = g.id;
  del.event_time_micros = *micros;
  del.api_invocation_time_micros = ApiTime(req);
  catalog::EncodeRecord(catalog::MakeMarker(g, del.identifier, *event_time, *micros), &del.record);
  std::vector<online::Outcome> outcomes;
  s = store_->Write(m, &outcomes);
  if (!s.ok()) return Fail(s, resp);
  if (hard && outcomes[0] == online::Outcome::kNotNewer) {
    return Fail(Status::InvalidArgument(
                    "HardDelete of record '" + del.identifier + "' in feature group '" + g.name +
                    "' failed: EventTime \"" + std::string(*event_time) +
                    "\" is not later than the EventTime of the record in the OnlineStore; nothing "
                    "was deleted"),
                resp);
  }
  resp->status = 200;
  resp->body.clear();
}

void RuntimeApi::BatchGetRecord(const HttpRequest& req, HttpResponse* resp) {
  resp->operation = "BatchGetRecord";
  JsonBody body(req.body);
  if (!body.status().ok()) return Fail(body.status(), resp);
  Violations v;
  struct Entry {
    const JsonValue* json;
    std::string_view group;
    std::vector<std::string_view> ids;
    std::vector<std::string_view> features;
  };
  std::vector<Entry> entries;
  size_t total_ids = 0;
  const JsonValue* identifiers = Find(body.root(), "Identifiers");
  if (identifiers == nullptr) {
    v.Null("identifiers");
  } else if (!identifiers->IsArray()) {
    v.Type("identifiers", "a list");
  } else {
    v.Length("[...]", "identifiers", identifiers->Size(), 1, kMaxBatchGetIdentifiers);
    for (rapidjson::SizeType i = 0; i < identifiers->Size(); ++i) {
      const JsonValue& e = (*identifiers)[i];
      const std::string path = Member("identifiers", i);
      if (!e.IsObject()) {
        v.Type(path, "a structure");
        continue;
      }
      Entry& entry = entries.emplace_back();
      entry.json = &e;
      const JsonValue* g = Find(e, "FeatureGroupName");
      if (g == nullptr) {
        v.Null(Path(path, "featureGroupName"));
      } else if (!g->IsString()) {
        v.Type(Path(path, "featureGroupName"), "a string");
      } else {
        entry.group = Str(*g);
        v.GroupName(entry.group, Path(path, "featureGroupName"));
      }
      const std::string ids_path = Path(path, "recordIdentifiersValueAsString");
      const JsonValue* ids = Find(e, "RecordIdentifiersValueAsString");
      if (ids == nullptr) {
        v.Null(ids_path);
      } else if (!ids->IsArray()) {
        v.Type(ids_path, "a list");
      } else {
        v.Length("[...]", ids_path, ids->Size(), 1, kMaxBatchGetIdentifiers);
        for (rapidjson::SizeType k = 0; k < ids->Size(); ++k) {
          if (!(*ids)[k].IsString()) {
            v.Type(Member(ids_path, k), "a string");
            continue;
          }
          entry.ids.push_back(Str((*ids)[k]));
          v.ValueString(entry.ids.back(), Member(ids_path, k));
        }
        total_ids += entry.ids.size();
      }
      if (const JsonValue* f = Find(e, "FeatureNames")) {
        const std::string f_path = Path(path, "featureNames");
        if (!f->IsArray()) {
          v.Type(f_path, "a list");
        } else {
          if (f->Empty())
            v.Constraint("[]", f_path, "Member must have length greater than or equal to 1");
          for (rapidjson::SizeType k = 0; k < f->Size(); ++k) {
            if (!(*f)[k].IsString()) {
              v.Type(Member(f_path, k), "a string");
              continue;
            }
            entry.features.push_back(Str((*f)[k]));
            v.FeatureName(entry.features.back(), Member(f_path, k));
          }
        }
      }
    }
  }
  bool expiration = false;
  if (const JsonValue* e = Find(body.root(), "ExpirationTimeResponse")) {
    if (!e->IsString()) {
      v.Type("expirationTimeResponse", "a string");
    } else {
      v.Enum(Str(*e), "expirationTimeResponse", {"Enabled", "Disabled"});
      expiration = Str(*e) == "Enabled";
    }
  }
  if (!v.empty()) return Fail(v.ToStatus(), resp);
  if (total_ids > kMaxBatchGetIdentifiers) {
    return Fail(Status::InvalidArgument(
                    "BatchGetRecord accepts at most " + std::to_string(kMaxBatchGetIdentifiers) +
                    " record identifiers in total; the request has " + std::to_string(total_ids)),
                resp);
  }

  std::string records;  // the Records array's elements, then Errors'
  std::string errors;
  BodySink records_sink(&records), errors_sink(&errors);
  JsonWriter rw(records_sink), ew(errors_sink);
  rw.StartArray();
  ew.StartArray();
  auto add_error = [&](std::string_view group, std::string_view id, const Status& s) {
    ew.StartObject();
    ew.Key("FeatureGroupName");
    WriteStr(ew, group);
    ew.Key("RecordIdentifierValueAsString");
    WriteStr(ew, id);
    ew.Key("ErrorCode");
    WriteStr(ew, ErrorCodeFor(s));
    ew.Key("ErrorMessage");
    WriteStr(ew, s.message());
    ew.EndObject();
  };
  std::vector<bool> keep;
  std::vector<std::string> scratch;
  std::vector<std::string_view> lookup;
  for (const Entry& entry : entries) {
    StatusOr<GroupPtr> group = ResolveGroup(catalog_, entry.group, "BatchGetRecord");
    Status s = group.ok() ? Projection(**group, entry.features, &keep) : group.status();
    if (!s.ok()) {
      for (std::string_view id : entry.ids) add_error(entry.group, id, s);
      continue;
    }
    const FeatureGroup& g = **group;
    scratch.assign(entry.ids.size(), std::string());
    lookup.clear();
    for (size_t i = 0; i < entry.ids.size(); ++i)
      lookup.push_back(LookupIdentifier(g, entry.ids[i], &scratch[i]));
    Status decode;
    s = store_->MultiGet(g.id, lookup, [&](size_t i, const online::StoredRecord& rec) {
      rw.StartObject();
      rw.Key("FeatureGroupName");
      WriteStr(rw, entry.group);
      rw.Key("RecordIdentifierValueAsString");
      WriteStr(rw, entry.ids[i]);
      Status d = WriteRecord(rw, g, rec.record, keep);
      if (!d.ok()) decode = d;
      WriteExpiresAt(rw, rec, expiration);
      rw.EndObject();
    });
    if (s.ok()) s = decode;
    if (!s.ok()) return Fail(s, resp);
  }
  rw.EndArray();
  ew.EndArray();
  std::string& out = resp->body;
  out.clear();
  out.reserve(records.size() + errors.size() + 64);
  out += "{\"Records\":";
  out += records;
  out += ",\"Errors\":";
  out += errors;
  out += ",\"UnprocessedIdentifiers\":[]}";
  resp->status = 200;
}

void RuntimeApi::BatchWriteRecord(const HttpRequest& req, HttpResponse* resp) {
  resp->operation = "BatchWriteRecord";
  JsonBody body(req.body);
  if (!body.status().ok()) return Fail(body.status(), resp);
  Violations v;
  struct Entry {
    const JsonValue* json;
    std::string_view group;
    std::vector<FeatureValueInput> values;
    TargetStores ts;
    std::optional<catalog::TtlDuration> ttl;
  };
  std::vector<Entry> entries;
  const JsonValue* list = Find(body.root(), "Entries");
  if (list == nullptr) {
    v.Null("entries");
  } else if (!list->IsArray()) {
    v.Type("entries", "a list");
  } else {
    v.Length("[...]", "entries", list->Size(), 1, kMaxBatchWriteEntries);
    entries.reserve(list->Size());
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const JsonValue& e = (*list)[i];
      const std::string path = Member("entries", i);
      if (!e.IsObject()) {
        v.Type(path, "a structure");
        continue;
      }
      Entry& entry = entries.emplace_back();
      entry.json = &e;
      const JsonValue* g = Find(e, "FeatureGroupName");
      if (g == nullptr) {
        v.Null(Path(path, "featureGroupName"));
      } else if (!g->IsString()) {
        v.Type(Path(path, "featureGroupName"), "a string");
      } else {
        entry.group = Str(*g);
        v.GroupName(entry.group, Path(path, "featureGroupName"));
      }
      ParseRecord(Find(e, "Record"), Path(path, "record"), &v, &entry.values);
      ParseTargetStores(Find(e, "TargetStores"), Path(path, "targetStores"), &v, &entry.ts);
      entry.ttl = ParseTtl(Find(e, "TtlDuration"), Path(path, "ttlDuration"), &v);
    }
  }
  std::optional<catalog::TtlDuration> request_ttl =
      ParseTtl(Find(body.root(), "TtlDuration"), "ttlDuration", &v);
  if (!v.empty()) return Fail(v.ToStatus(), resp);

  // Validate every entry; the valid ones commit together.
  const int64_t api_time = ApiTime(req);
  std::string errors;
  BodySink errors_sink(&errors);
  JsonWriter ew(errors_sink);
  ew.StartArray();
  std::vector<online::Mutation> mutations;
  std::vector<const Entry*> written;
  mutations.reserve(entries.size());
  for (const Entry& entry : entries) {
    StatusOr<GroupPtr> group = ResolveGroup(catalog_, entry.group, "");
    online::Mutation m;
    Status s = group.ok() ? BuildPut(**group, entry.values, entry.ts,
                                     entry.ttl ? entry.ttl : request_ttl, api_time, &m)
                          : group.status();
    if (!s.ok()) {
      ew.StartObject();
      ew.Key("Entry");
      entry.json->Accept(ew);
      ew.Key("ErrorCode");
      WriteStr(ew, ErrorCodeFor(s));
      ew.Key("ErrorMessage");
      WriteStr(ew, s.message());
      ew.EndObject();
      continue;
    }
    mutations.push_back(std::move(m));
    written.push_back(&entry);
  }
  ew.EndArray();

  std::string unprocessed = "[]";
  if (!mutations.empty()) {
    std::vector<online::Outcome> outcomes;
    Status s = store_->Write(mutations, &outcomes);
    if (s.code() == StatusCode::kUnavailable) {
      // Retryable: hand the entries back.
      unprocessed.clear();
      BodySink sink(&unprocessed);
      JsonWriter uw(sink);
      uw.StartArray();
      for (const Entry* e : written) e->json->Accept(uw);
      uw.EndArray();
    } else if (!s.ok()) {
      return Fail(s, resp);
    }
  }
  std::string& out = resp->body;
  out.clear();
  out += "{\"Errors\":";
  out += errors;
  out += ",\"UnprocessedEntries\":";
  out += unprocessed;
  out += "}";
  resp->status = 200;
}

void RuntimeApi::ListRecords(std::string_view label, const HttpRequest& req, HttpResponse* resp) {
  resp->operation = "ListRecords";
  Violations v;
  std::string storage;
  const std::string_view name = DecodeGroupLabel(label, &v, &storage);
  JsonBody body(req.body);
  if (!body.status().ok()) return Fail(body.status(), resp);
  online::ListOptions options;
  options.max_results = static_cast<size_t>(kMaxListResults);
  if (const JsonValue* max = Find(body.root(), "MaxResults")) {
    if (!max->IsInt64()) {
      v.Type("maxResults", "an integer");
    } else if (max->GetInt64() < 1 || max->GetInt64() > kMaxListResults) {
      v.Constraint(std::to_string(max->GetInt64()), "maxResults",
                   max->GetInt64() < 1 ? "Member must have value greater than or equal to 1"
                                       : "Member must have value less than or equal to 100");
    } else {
      options.max_results = static_cast<size_t>(max->GetInt64());
    }
  }
  std::string start_after;
  if (const JsonValue* token = Find(body.root(), "NextToken")) {
    if (!token->IsString()) {
      v.Type("nextToken", "a string");
    } else {
      v.Length(Str(*token), "nextToken", CharCount(Str(*token)), 1, kMaxNextToken);
      if (v.empty() && !DecodeToken(Str(*token), &start_after)) {
        v.Constraint(Str(*token), "nextToken",
                     "Member must be a NextToken returned by ListRecords");
      }
    }
  }
  if (const JsonValue* soft = Find(body.root(), "IncludeSoftDeletedRecords")) {
    if (!soft->IsBool()) {
      v.Type("includeSoftDeletedRecords", "a boolean");
    } else {
      options.include_soft_deleted = soft->GetBool();
    }
  }
  if (!v.empty()) return Fail(v.ToStatus(), resp);

  StatusOr<GroupPtr> group = ResolveGroup(catalog_, name, "ListRecords");
  if (!group.ok()) return Fail(group.status(), resp);
  options.start_after = start_after;
  StatusOr<online::ListPage> page = store_->List((*group)->id, options);
  if (!page.ok()) return Fail(page.status(), resp);
  std::string& out = resp->body;
  out.clear();
  BodySink sink(&out);
  JsonWriter w(sink);
  w.StartObject();
  w.Key("RecordIdentifiers");
  w.StartArray();
  for (const std::string& id : page->identifiers) WriteStr(w, id);
  w.EndArray();
  if (page->more && !page->identifiers.empty()) {
    w.Key("NextToken");
    WriteStr(w, EncodeToken(page->identifiers.back()));
  }
  w.EndObject();
  resp->status = 200;
}

}  // namespace larder::server
