#include "offline/duckdb_engine.h"

// Only the stable, non-deprecated C API.
#define DUCKDB_API_NO_DEPRECATED
#include <duckdb.h>
// After duckdb.h: redirects the C API calls below to the library loaded on first use.
#include "offline/duckdb_loader.h"
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "common/status_macros.h"

namespace larder::offline {
namespace {

struct ErrorPrefix {
  std::string_view prefix;
  StatusCode code;
};
constexpr ErrorPrefix kErrorPrefixes[] = {
    {"Parser Error", StatusCode::kInvalidArgument},
    {"Binder Error", StatusCode::kInvalidArgument},
    {"Catalog Error", StatusCode::kInvalidArgument},
    {"Conversion Error", StatusCode::kInvalidArgument},
    {"Invalid Input Error", StatusCode::kInvalidArgument},
    {"Not implemented Error", StatusCode::kInvalidArgument},
    {"Out of Range Error", StatusCode::kInvalidArgument},
    {"Permission Error", StatusCode::kPermissionDenied},
    {"INTERRUPT Error", StatusCode::kCancelled},
    {"Out of Memory Error", StatusCode::kResourceExhausted},
    {"IO Error", StatusCode::kIOError},
    {"INTERNAL Error", StatusCode::kInternal},
    {"FATAL Error", StatusCode::kInternal},
};

// Classifies an error known only by its message (prepare and extract errors carry no type).
Status StatusFromMessage(std::string message) {
  for (const ErrorPrefix& p : kErrorPrefixes) {
    if (message.compare(0, p.prefix.size(), p.prefix) == 0)
      return Status(p.code, std::move(message));
  }
  return Status::InvalidArgument(std::move(message));
}

Status StatusFromErrorType(duckdb_error_type type, std::string message) {
  switch (type) {
    case DUCKDB_ERROR_PERMISSION:
      return Status::PermissionDenied(std::move(message));
    case DUCKDB_ERROR_INTERRUPT:
      return Status::Cancelled(std::move(message));
    case DUCKDB_ERROR_OUT_OF_MEMORY:
      return Status::ResourceExhausted(std::move(message));
    case DUCKDB_ERROR_IO:
    case DUCKDB_ERROR_NETWORK:
    case DUCKDB_ERROR_HTTP:
      return Status::IOError(std::move(message));
    case DUCKDB_ERROR_FATAL:
    case DUCKDB_ERROR_INTERNAL:
    case DUCKDB_ERROR_NULL_POINTER:
    case DUCKDB_ERROR_SERIALIZATION:
      return Status::Internal(std::move(message));
    case DUCKDB_ERROR_INVALID:
      return StatusFromMessage(std::move(message));
    default:
      return Status::InvalidArgument(std::move(message));
  }
}

// Owns a duckdb_logical_type.
class LogicalType {
 public:
  explicit LogicalType(duckdb_logical_type t) : t_(t) {}
  ~LogicalType() {
    if (t_ != nullptr) duckdb_destroy_logical_type(&t_);
  }
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  duckdb_logical_type get() const { return t_; }

 private:
  duckdb_logical_type t_;
};

std::string TakeDuckString(char* s) {
  if (s == nullptr) return "";
  std::string out(s);
  duckdb_free(s);
  return out;
}

// A column type as read from DuckDB: the neutral DataType plus what decoding needs.
struct VecType {
  DataType neutral;
  duckdb_type id = DUCKDB_TYPE_INVALID;
  duckdb_type internal = DUCKDB_TYPE_INVALID;  // DECIMAL and ENUM storage type
  std::vector<std::string> enum_values;
  std::vector<VecType> children;
};

std::string_view UnsupportedName(duckdb_type id) {
  switch (id) {
    case DUCKDB_TYPE_UNION:
      return "UNION";
    case DUCKDB_TYPE_BIT:
      return "BIT";
    case DUCKDB_TYPE_TIME_TZ:
      return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_BIGNUM:
      return "BIGNUM";
    case DUCKDB_TYPE_TIME_NS:
      return "TIME_NS";
    default:
      return "UNKNOWN";
  }
}

VecType ReadType(duckdb_logical_type t) {
  VecType v;
  v.id = duckdb_get_type_id(t);
  DataType& d = v.neutral;
  switch (v.id) {
    case DUCKDB_TYPE_SQLNULL:
      d.kind = TypeKind::kNull;
      break;
    case DUCKDB_TYPE_BOOLEAN:
      d.kind = TypeKind::kBoolean;
      break;
    case DUCKDB_TYPE_TINYINT:
      d.kind = TypeKind::kTinyInt;
      break;
    case DUCKDB_TYPE_SMALLINT:
      d.kind = TypeKind::kSmallInt;
      break;
    case DUCKDB_TYPE_INTEGER:
      d.kind = TypeKind::kInteger;
      break;
    case DUCKDB_TYPE_BIGINT:
      d.kind = TypeKind::kBigInt;
      break;
    case DUCKDB_TYPE_HUGEINT:
      d.kind = TypeKind::kHugeInt;
      break;
    case DUCKDB_TYPE_UTINYINT:
      d.kind = TypeKind::kUTinyInt;
      break;
    case DUCKDB_TYPE_USMALLINT:
      d.kind = TypeKind::kUSmallInt;
      break;
    case DUCKDB_TYPE_UINTEGER:
      d.kind = TypeKind::kUInteger;
      break;
    case DUCKDB_TYPE_UBIGINT:
      d.kind = TypeKind::kUBigInt;
      break;
    case DUCKDB_TYPE_UHUGEINT:
      d.kind = TypeKind::kUHugeInt;
      break;
    case DUCKDB_TYPE_FLOAT:
      d.kind = TypeKind::kFloat;
      break;
    case DUCKDB_TYPE_DOUBLE:
      d.kind = TypeKind::kDouble;
      break;
    case DUCKDB_TYPE_DECIMAL:
      d.kind = TypeKind::kDecimal;
      d.width = duckdb_decimal_width(t);
      d.scale = duckdb_decimal_scale(t);
      v.internal = duckdb_decimal_internal_type(t);
      break;
    case DUCKDB_TYPE_VARCHAR:
      d.kind = TypeKind::kVarchar;
      break;
    case DUCKDB_TYPE_BLOB:
      d.kind = TypeKind::kBlob;
      break;
    case DUCKDB_TYPE_UUID:
      d.kind = TypeKind::kUuid;
      break;
    case DUCKDB_TYPE_DATE:
      d.kind = TypeKind::kDate;
      break;
    case DUCKDB_TYPE_TIME:
      d.kind = TypeKind::kTime;
      break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
      d.kind = TypeKind::kTimestamp;
      break;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      d.kind = TypeKind::kTimestampTz;
      break;
    case DUCKDB_TYPE_INTERVAL:
      d.kind = TypeKind::kInterval;
      break;
    case DUCKDB_TYPE_ENUM: {
      d.kind = TypeKind::kVarchar;
      v.internal = duckdb_enum_internal_type(t);
      uint32_t n = duckdb_enum_dictionary_size(t);
      v.enum_values.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        v.enum_values.push_back(TakeDuckString(duckdb_enum_dictionary_value(t, i)));
      }
      break;
    }
    case DUCKDB_TYPE_LIST: {
      d.kind = TypeKind::kList;
      LogicalType child(duckdb_list_type_child_type(t));
      v.children.push_back(ReadType(child.get()));
      break;
    }
    case DUCKDB_TYPE_ARRAY: {
      d.kind = TypeKind::kArray;
      d.array_size = duckdb_array_type_array_size(t);
      LogicalType child(duckdb_array_type_child_type(t));
      v.children.push_back(ReadType(child.get()));
      break;
    }
    case DUCKDB_TYPE_STRUCT: {
      d.kind = TypeKind::kStruct;
      idx_t n = duckdb_struct_type_child_count(t);
      for (idx_t i = 0; i < n; ++i) {
        LogicalType child(duckdb_struct_type_child_type(t, i));
        v.children.push_back(ReadType(child.get()));
        d.field_names.push_back(TakeDuckString(duckdb_struct_type_child_name(t, i)));
      }
      break;
    }
    case DUCKDB_TYPE_MAP: {
      d.kind = TypeKind::kMap;
      LogicalType key(duckdb_map_type_key_type(t));
      LogicalType value(duckdb_map_type_value_type(t));
      v.children.push_back(ReadType(key.get()));
      v.children.push_back(ReadType(value.get()));
      break;
    }
    default:
      d.kind = TypeKind::kUnsupported;
      d.unsupported_name = std::string(UnsupportedName(v.id));
      break;
  }
  for (const VecType& c : v.children) d.children.push_back(c.neutral);
  return v;
}

// The first unsupported type inside `t`, or nullptr.
const DataType* FindUnsupported(const DataType& t) {
  if (t.kind == TypeKind::kUnsupported) return &t;
  for (const DataType& c : t.children) {
    if (const DataType* u = FindUnsupported(c)) return u;
  }
  return nullptr;
}

std::string Int128ToString(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  unsigned __int128 u =
      neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string digits;
  while (u > 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (neg) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

std::string UInt128ToString(unsigned __int128 u) {
  if (u == 0) return "0";
  std::string digits;
  while (u > 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return std::string(digits.rbegin(), digits.rend());
}

__int128 HugeToInt128(duckdb_hugeint h) {
  return (static_cast<__int128>(h.upper) << 64) | static_cast<__int128>(h.lower);
}

// "-1234" with scale 2 -> "-12.34"; scale 3 of "5" -> "0.005".
std::string ScaleDecimal(__int128 v, uint8_t scale) {
  std::string s = Int128ToString(v);
  if (scale == 0) return s;
  bool neg = !s.empty() && s[0] == '-';
  std::string digits = neg ? s.substr(1) : s;
  if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
  digits.insert(digits.size() - scale, ".");
  return neg ? "-" + digits : digits;
}

std::string UuidToString(duckdb_hugeint h) {
  uint64_t upper = static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63);
  std::string hex = fmt::format("{:016x}{:016x}", upper, h.lower);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

template <typename T>
T At(duckdb_vector v, idx_t row) {
  return static_cast<const T*>(duckdb_vector_get_data(v))[row];
}

void ReadDatum(const VecType& t, duckdb_vector v, idx_t row, Datum* out) {
  *out = Datum();
  uint64_t* validity = duckdb_vector_get_validity(v);
  if (validity != nullptr && !duckdb_validity_row_is_valid(validity, row)) return;
  if (t.id == DUCKDB_TYPE_SQLNULL) return;
  out->is_null = false;
  switch (t.id) {
    case DUCKDB_TYPE_BOOLEAN:
      out->int_value = At<bool>(v, row) ? 1 : 0;
      break;
    case DUCKDB_TYPE_TINYINT:
      out->int_value = At<int8_t>(v, row);
      break;
    case DUCKDB_TYPE_SMALLINT:
      out->int_value = At<int16_t>(v, row);
      break;
    case DUCKDB_TYPE_INTEGER:
      out->int_value = At<int32_t>(v, row);
      break;
    case DUCKDB_TYPE_BIGINT:
      out->int_value = At<int64_t>(v, row);
      break;
    case DUCKDB_TYPE_UTINYINT:
      out->int_value = At<uint8_t>(v, row);
      break;
    case DUCKDB_TYPE_USMALLINT:
      out->int_value = At<uint16_t>(v, row);
      break;
    case DUCKDB_TYPE_UINTEGER:
      out->int_value = At<uint32_t>(v, row);
      break;
    case DUCKDB_TYPE_UBIGINT:
      out->text = std::to_string(At<uint64_t>(v, row));
      break;
    case DUCKDB_TYPE_HUGEINT:
      out->text = Int128ToString(HugeToInt128(At<duckdb_hugeint>(v, row)));
      break;
    case DUCKDB_TYPE_UHUGEINT: {
      duckdb_uhugeint h = At<duckdb_uhugeint>(v, row);
      out->text = UInt128ToString((static_cast<unsigned __int128>(h.upper) << 64) | h.lower);
      break;
    }
    case DUCKDB_TYPE_FLOAT:
      out->double_value = At<float>(v, row);
      break;
    case DUCKDB_TYPE_DOUBLE:
      out->double_value = At<double>(v, row);
      break;
    case DUCKDB_TYPE_DECIMAL: {
      __int128 raw = 0;
      switch (t.internal) {
        case DUCKDB_TYPE_SMALLINT:
          raw = At<int16_t>(v, row);
          break;
        case DUCKDB_TYPE_INTEGER:
          raw = At<int32_t>(v, row);
          break;
        case DUCKDB_TYPE_BIGINT:
          raw = At<int64_t>(v, row);
          break;
        default:
          raw = HugeToInt128(At<duckdb_hugeint>(v, row));
          break;
      }
      out->text = ScaleDecimal(raw, t.neutral.scale);
      break;
    }
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
      duckdb_string_t s = At<duckdb_string_t>(v, row);
      out->text.assign(duckdb_string_t_data(&s), duckdb_string_t_length(s));
      break;
    }
    case DUCKDB_TYPE_UUID:
      out->text = UuidToString(At<duckdb_hugeint>(v, row));
      break;
    case DUCKDB_TYPE_DATE:
      out->int_value = At<duckdb_date>(v, row).days;
      break;
    case DUCKDB_TYPE_TIME:
      out->int_value = At<duckdb_time>(v, row).micros;
      break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      out->int_value = At<duckdb_timestamp>(v, row).micros;
      break;
    case DUCKDB_TYPE_TIMESTAMP_S:
      out->int_value = At<duckdb_timestamp_s>(v, row).seconds * 1'000'000;
      break;
    case DUCKDB_TYPE_TIMESTAMP_MS:
      out->int_value = At<duckdb_timestamp_ms>(v, row).millis * 1'000;
      break;
    case DUCKDB_TYPE_TIMESTAMP_NS: {
      int64_t ns = At<duckdb_timestamp_ns>(v, row).nanos;
      out->int_value = ns / 1000 - (ns % 1000 < 0 ? 1 : 0);
      break;
    }
    case DUCKDB_TYPE_INTERVAL: {
      duckdb_interval i = At<duckdb_interval>(v, row);
      out->interval = Interval{i.months, i.days, i.micros};
      break;
    }
    case DUCKDB_TYPE_ENUM: {
      uint64_t index = 0;
      switch (t.internal) {
        case DUCKDB_TYPE_UTINYINT:
          index = At<uint8_t>(v, row);
          break;
        case DUCKDB_TYPE_USMALLINT:
          index = At<uint16_t>(v, row);
          break;
        default:
          index = At<uint32_t>(v, row);
          break;
      }
      out->text = index < t.enum_values.size() ? t.enum_values[index] : "";
      break;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_MAP: {
      duckdb_list_entry e = At<duckdb_list_entry>(v, row);
      duckdb_vector child = duckdb_list_vector_get_child(v);
      out->children.resize(e.length);
      for (uint64_t i = 0; i < e.length; ++i) {
        if (t.id == DUCKDB_TYPE_LIST) {
          ReadDatum(t.children[0], child, e.offset + i, &out->children[i]);
          continue;
        }
        // A MAP's child is STRUCT(key, value).
        Datum& entry = out->children[i];
        entry.is_null = false;
        entry.children.resize(2);
        ReadDatum(t.children[0], duckdb_struct_vector_get_child(child, 0), e.offset + i,
                  &entry.children[0]);
        ReadDatum(t.children[1], duckdb_struct_vector_get_child(child, 1), e.offset + i,
                  &entry.children[1]);
      }
      break;
    }
    case DUCKDB_TYPE_ARRAY: {
      duckdb_vector child = duckdb_array_vector_get_child(v);
      uint64_t n = t.neutral.array_size;
      out->children.resize(n);
      for (uint64_t i = 0; i < n; ++i)
        ReadDatum(t.children[0], child, row * n + i, &out->children[i]);
      break;
    }
    case DUCKDB_TYPE_STRUCT: {
      out->children.resize(t.children.size());
      for (size_t i = 0; i < t.children.size(); ++i) {
        ReadDatum(t.children[i], duckdb_struct_vector_get_child(v, i), row, &out->children[i]);
      }
      break;
    }
    default:
      out->is_null = true;
      break;  // unsupported types are refused before execution
  }
}

std::string_view KindSql(TypeKind k) {
  switch (k) {
    case TypeKind::kNull:
      return "NULL";
    case TypeKind::kBoolean:
      return "BOOLEAN";
    case TypeKind::kTinyInt:
      return "TINYINT";
    case TypeKind::kSmallInt:
      return "SMALLINT";
    case TypeKind::kInteger:
      return "INTEGER";
    case TypeKind::kBigInt:
      return "BIGINT";
    case TypeKind::kHugeInt:
      return "HUGEINT";
    case TypeKind::kUTinyInt:
      return "UTINYINT";
    case TypeKind::kUSmallInt:
      return "USMALLINT";
    case TypeKind::kUInteger:
      return "UINTEGER";
    case TypeKind::kUBigInt:
      return "UBIGINT";
    case TypeKind::kUHugeInt:
      return "UHUGEINT";
    case TypeKind::kFloat:
      return "FLOAT";
    case TypeKind::kDouble:
      return "DOUBLE";
    case TypeKind::kDecimal:
      return "DECIMAL";
    case TypeKind::kVarchar:
      return "VARCHAR";
    case TypeKind::kBlob:
      return "BLOB";
    case TypeKind::kUuid:
      return "UUID";
    case TypeKind::kDate:
      return "DATE";
    case TypeKind::kTime:
      return "TIME";
    case TypeKind::kTimestamp:
      return "TIMESTAMP";
    case TypeKind::kTimestampTz:
      return "TIMESTAMP WITH TIME ZONE";
    case TypeKind::kInterval:
      return "INTERVAL";
    case TypeKind::kList:
      return "LIST";
    case TypeKind::kArray:
      return "ARRAY";
    case TypeKind::kStruct:
      return "STRUCT";
    case TypeKind::kMap:
      return "MAP";
    case TypeKind::kUnsupported:
      return "UNSUPPORTED";
  }
  return "UNSUPPORTED";
}

std::string ErrorOf(duckdb_result* r) {
  const char* e = duckdb_result_error(r);
  return e != nullptr ? e : "unknown DuckDB error";
}

}  // namespace

std::string DataType::ToSql() const {
  switch (kind) {
    case TypeKind::kDecimal:
      return fmt::format("DECIMAL({},{})", width, scale);
    case TypeKind::kList:
      return children.at(0).ToSql() + "[]";
    case TypeKind::kArray:
      return fmt::format("{}[{}]", children.at(0).ToSql(), array_size);
    case TypeKind::kMap:
      return fmt::format("MAP({}, {})", children.at(0).ToSql(), children.at(1).ToSql());
    case TypeKind::kStruct: {
      std::string s = "STRUCT(";
      for (size_t i = 0; i < children.size(); ++i) {
        if (i > 0) s += ", ";
        s += QuoteIdentifier(field_names[i]) + " " + children[i].ToSql();
      }
      return s + ")";
    }
    case TypeKind::kUnsupported:
      return unsupported_name;
    default:
      return std::string(KindSql(kind));
  }
}

DataType DataType::ListOf(DataType element) {
  DataType t;
  t.kind = TypeKind::kList;
  t.children.push_back(std::move(element));
  return t;
}

std::string_view StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kSelect:
      return "SELECT";
    case StatementKind::kExplain:
      return "EXPLAIN";
    case StatementKind::kInsert:
      return "INSERT";
    case StatementKind::kUpdate:
      return "UPDATE";
    case StatementKind::kDelete:
      return "DELETE";
    case StatementKind::kCreate:
      return "CREATE";
    case StatementKind::kDrop:
      return "DROP";
    case StatementKind::kAlter:
      return "ALTER";
    case StatementKind::kCopy:
      return "COPY";
    case StatementKind::kExport:
      return "EXPORT";
    case StatementKind::kAttach:
      return "ATTACH";
    case StatementKind::kDetach:
      return "DETACH";
    case StatementKind::kSet:
      return "SET";
    case StatementKind::kPragma:
      return "PRAGMA";
    case StatementKind::kLoad:
      return "INSTALL/LOAD";
    case StatementKind::kTransaction:
      return "transaction";
    case StatementKind::kCall:
      return "CALL";
    case StatementKind::kOther:
      return "non-query";
  }
  return "non-query";
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// ---- Database ----

struct Connection::Impl {
  duckdb_connection conn = nullptr;
  ~Impl() {
    if (conn != nullptr) duckdb_disconnect(&conn);
  }
};

struct Database::Impl {
  duckdb_database db = nullptr;
  ~Impl() {
    if (db != nullptr) duckdb_close(&db);
  }
};

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  // Every other entry point needs a Database, so this is where the library gets loaded.
  RETURN_IF_ERROR(duckdb_loader::LoadDuckDb().status);
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) {
    return Status::Internal("DuckDB: could not create a configuration");
  }
  std::vector<std::pair<std::string, std::string>> settings = {
      {"autoload_known_extensions", "false"},
      {"autoinstall_known_extensions", "false"},
      {"allow_community_extensions", "false"},
  };
  if (options.memory_limit_bytes > 0) {
    settings.emplace_back("memory_limit", fmt::format("{}B", options.memory_limit_bytes));
  }
  if (options.threads > 0) settings.emplace_back("threads", std::to_string(options.threads));
  if (!options.temp_directory.empty())
    settings.emplace_back("temp_directory", options.temp_directory);
  for (const auto& [name, value] : settings) {
    if (duckdb_set_config(config, name.c_str(), value.c_str()) == DuckDBError) {
      duckdb_destroy_config(&config);
      return Status::InvalidArgument(
          fmt::format("DuckDB rejected setting '{}' = '{}'", name, value));
    }
  }
  auto impl = std::make_unique<Impl>();
  char* error = nullptr;
  const char* path = options.path.empty() ? nullptr : options.path.c_str();
  duckdb_state st = duckdb_open_ext(path, &impl->db, config, &error);
  duckdb_destroy_config(&config);
  if (st == DuckDBError) {
    std::string message = error != nullptr ? error : "unknown error";
    if (error != nullptr) duckdb_free(error);
    impl->db = nullptr;
    return Status::IOError(fmt::format("DuckDB: cannot open database '{}': {}",
                                       options.path.empty() ? ":memory:" : options.path, message));
  }
  std::unique_ptr<Database> db(new Database(std::move(impl)));

  // Settings that must be applied through SQL: the time zone (ICU), init statements, then the
  // sandbox, closing with the lock so nothing after it can loosen the configuration.
  ASSIGN_OR_RETURN(auto conn, db->Connect());
  RETURN_IF_ERROR(conn->Execute("SET TimeZone = " + QuoteLiteral(options.time_zone)));
  for (const std::string& sql : options.init_sql) {
    RETURN_IF_ERROR(conn->Execute(sql).WithPrefix("DuckDB init"));
  }
  if (options.sandbox) {
    std::string dirs = "[";
    for (size_t i = 0; i < options.allowed_directories.size(); ++i) {
      if (i > 0) dirs += ", ";
      dirs += QuoteLiteral(options.allowed_directories[i]);
    }
    dirs += "]";
    RETURN_IF_ERROR(conn->Execute("SET allowed_directories = " + dirs));
    RETURN_IF_ERROR(conn->Execute("SET enable_external_access = false"));
    RETURN_IF_ERROR(conn->Execute("SET lock_configuration = true"));
  }
  return db;
}

StatusOr<std::unique_ptr<Connection>> Database::Connect() {
  auto impl = std::make_unique<Connection::Impl>();
  if (duckdb_connect(impl_->db, &impl->conn) == DuckDBError) {
    return Status::Internal("DuckDB: could not open a connection");
  }
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

// ---- Connection ----

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Status Connection::Execute(std::string_view sql) {
  duckdb_result result;
  std::string text(sql);
  if (duckdb_query(impl_->conn, text.c_str(), &result) == DuckDBError) {
    Status s = StatusFromErrorType(duckdb_result_error_type(&result), ErrorOf(&result));
    duckdb_destroy_result(&result);
    return s;
  }
  duckdb_destroy_result(&result);
  return Status::OK();
}

void Connection::Interrupt() { duckdb_interrupt(impl_->conn); }

std::vector<std::string> Connection::ReferencedTables(std::string_view sql) {
  std::vector<std::string> names;
  std::string text(sql);
  duckdb_value list = duckdb_get_table_names(impl_->conn, text.c_str(), false);
  if (list == nullptr) return names;
  idx_t n = duckdb_get_list_size(list);
  for (idx_t i = 0; i < n; ++i) {
    duckdb_value item = duckdb_get_list_child(list, i);
    names.push_back(TakeDuckString(duckdb_get_varchar(item)));
    duckdb_destroy_value(&item);
  }
  duckdb_destroy_value(&list);
  return names;
}

namespace {

StatementKind KindOf(duckdb_statement_type t) {
  switch (t) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
      return StatementKind::kSelect;
    case DUCKDB_STATEMENT_TYPE_EXPLAIN:
      return StatementKind::kExplain;
    case DUCKDB_STATEMENT_TYPE_INSERT:
      return StatementKind::kInsert;
    case DUCKDB_STATEMENT_TYPE_UPDATE:
      return StatementKind::kUpdate;
    case DUCKDB_STATEMENT_TYPE_DELETE:
      return StatementKind::kDelete;
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC:
      return StatementKind::kCreate;
    case DUCKDB_STATEMENT_TYPE_DROP:
      return StatementKind::kDrop;
    case DUCKDB_STATEMENT_TYPE_ALTER:
      return StatementKind::kAlter;
    case DUCKDB_STATEMENT_TYPE_COPY:
      return StatementKind::kCopy;
    case DUCKDB_STATEMENT_TYPE_EXPORT:
      return StatementKind::kExport;
    case DUCKDB_STATEMENT_TYPE_ATTACH:
      return StatementKind::kAttach;
    case DUCKDB_STATEMENT_TYPE_DETACH:
      return StatementKind::kDetach;
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
    case DUCKDB_STATEMENT_TYPE_SET:
      return StatementKind::kSet;
    case DUCKDB_STATEMENT_TYPE_PRAGMA:
      return StatementKind::kPragma;
    case DUCKDB_STATEMENT_TYPE_LOAD:
      return StatementKind::kLoad;
    case DUCKDB_STATEMENT_TYPE_TRANSACTION:
      return StatementKind::kTransaction;
    case DUCKDB_STATEMENT_TYPE_CALL:
      return StatementKind::kCall;
    default:
      return StatementKind::kOther;
  }
}

}  // namespace

// ---- PreparedStatement ----

struct PreparedStatement::Impl {
  duckdb_prepared_statement stmt = nullptr;
  duckdb_connection conn = nullptr;  // the connection that prepared it (progress, interrupt)
  StatementKind kind = StatementKind::kOther;
  std::vector<Column> columns;
  std::vector<VecType> types;
  ~Impl() {
    if (stmt != nullptr) duckdb_destroy_prepare(&stmt);
  }
};

PreparedStatement::PreparedStatement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PreparedStatement::~PreparedStatement() = default;
StatementKind PreparedStatement::kind() const { return impl_->kind; }
const std::vector<Column>& PreparedStatement::columns() const { return impl_->columns; }

StatusOr<std::unique_ptr<PreparedStatement>> Connection::Prepare(std::string_view sql) {
  std::string text(sql);
  duckdb_extracted_statements extracted = nullptr;
  idx_t n = duckdb_extract_statements(impl_->conn, text.c_str(), &extracted);
  if (n != 1) {
    Status s;
    const char* error = n == 0 ? duckdb_extract_statements_error(extracted) : nullptr;
    if (error != nullptr) {
      s = StatusFromMessage(error);
    } else if (n == 0) {
      s = Status::InvalidArgument("the query string holds no SQL statement");
    } else {
      s = Status::InvalidArgument(
          fmt::format("the query string holds {} SQL statements; send exactly one statement", n));
    }
    duckdb_destroy_extracted(&extracted);
    return s;
  }
  auto impl = std::make_unique<PreparedStatement::Impl>();
  duckdb_state st = duckdb_prepare_extracted_statement(impl_->conn, extracted, 0, &impl->stmt);
  duckdb_destroy_extracted(&extracted);
  if (st == DuckDBError) {
    const char* error = duckdb_prepare_error(impl->stmt);
    return StatusFromMessage(error != nullptr ? error : "DuckDB could not prepare the statement");
  }
  impl->conn = impl_->conn;
  impl->kind = KindOf(duckdb_prepared_statement_type(impl->stmt));
  idx_t cols = duckdb_prepared_statement_column_count(impl->stmt);
  for (idx_t c = 0; c < cols; ++c) {
    LogicalType t(duckdb_prepared_statement_column_logical_type(impl->stmt, c));
    impl->types.push_back(ReadType(t.get()));
    std::string name =
        TakeDuckString(const_cast<char*>(duckdb_prepared_statement_column_name(impl->stmt, c)));
    impl->columns.push_back(Column{std::move(name), impl->types.back().neutral});
  }
  return std::unique_ptr<PreparedStatement>(new PreparedStatement(std::move(impl)));
}

StatusOr<std::unique_ptr<Result>> Connection::Query(std::string_view sql) {
  ASSIGN_OR_RETURN(auto stmt, Prepare(sql));
  return stmt->Execute();
}

// ---- Result ----

struct Result::Impl {
  duckdb_result result;
  bool valid = false;
  std::vector<Column> columns;
  std::vector<VecType> types;
  ~Impl() {
    if (valid) duckdb_destroy_result(&result);
  }
};

Result::Result(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Result::~Result() = default;
const std::vector<Column>& Result::columns() const { return impl_->columns; }
int64_t Result::rows_changed() const {
  return static_cast<int64_t>(duckdb_rows_changed(&impl_->result));
}

StatusOr<std::unique_ptr<Result>> PreparedStatement::Execute() {
  for (const Column& c : impl_->columns) {
    if (const DataType* u = FindUnsupported(c.type)) {
      return Status::InvalidArgument(
          fmt::format("column '{}' has type {}, which Larder cannot return; CAST it to VARCHAR",
                      c.name, u->unsupported_name));
    }
  }
  duckdb_pending_result pending = nullptr;
  if (duckdb_pending_prepared(impl_->stmt, &pending) == DuckDBError) {
    const char* error = duckdb_pending_error(pending);
    Status s = StatusFromMessage(error != nullptr ? error : "DuckDB could not start the statement");
    duckdb_destroy_pending(&pending);
    return s;
  }
  auto impl = std::make_unique<Result::Impl>();
  duckdb_state st = duckdb_execute_pending(pending, &impl->result);
  duckdb_destroy_pending(&pending);
  impl->valid = true;
  if (st == DuckDBError) {
    return StatusFromErrorType(duckdb_result_error_type(&impl->result), ErrorOf(&impl->result));
  }
  impl->columns = impl_->columns;
  impl->types = impl_->types;
  return std::unique_ptr<Result>(new Result(std::move(impl)));
}

StatusOr<std::unique_ptr<Result>> PreparedStatement::ExecuteWithProgress(
    const std::function<bool(double fraction)>& on_progress, int64_t interval_ms) {
  for (const Column& c : impl_->columns) {
    if (const DataType* u = FindUnsupported(c.type)) {
      return Status::InvalidArgument(
          fmt::format("column '{}' has type {}, which Larder cannot return; CAST it to VARCHAR",
                      c.name, u->unsupported_name));
    }
  }
  duckdb_pending_result pending = nullptr;
  if (duckdb_pending_prepared(impl_->stmt, &pending) == DuckDBError) {
    const char* error = duckdb_pending_error(pending);
    Status s = StatusFromMessage(error != nullptr ? error : "DuckDB could not start the statement");
    duckdb_destroy_pending(&pending);
    return s;
  }
  // One report before any work, so a caller can cancel even a statement that finishes at once.
  if (on_progress && !on_progress(-1.0)) {
    duckdb_destroy_pending(&pending);
    return Status::Cancelled("the statement was cancelled before it started");
  }
  using Clock = std::chrono::steady_clock;
  auto next_report = Clock::now() + std::chrono::milliseconds(interval_ms);
  bool interrupted = false;
  while (true) {
    duckdb_pending_state state = duckdb_pending_execute_task(pending);
    if (state == DUCKDB_PENDING_RESULT_READY) break;
    if (state == DUCKDB_PENDING_ERROR) {
      const char* error = duckdb_pending_error(pending);
      Status s =
          StatusFromMessage(error != nullptr ? error : "DuckDB failed running the statement");
      duckdb_destroy_pending(&pending);
      return s;
    }
    if (!interrupted && on_progress && Clock::now() >= next_report) {
      next_report = Clock::now() + std::chrono::milliseconds(interval_ms);
      duckdb_query_progress_type p = duckdb_query_progress(impl_->conn);
      double fraction = p.percentage < 0 ? -1.0 : std::min(p.percentage / 100.0, 1.0);
      if (!on_progress(fraction)) {
        duckdb_interrupt(impl_->conn);
        interrupted = true;
      }
    }
    // The background threads hold every runnable task: wait a moment instead of spinning.
    if (state == DUCKDB_PENDING_NO_TASKS_AVAILABLE)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto impl = std::make_unique<Result::Impl>();
  duckdb_state st = duckdb_execute_pending(pending, &impl->result);
  duckdb_destroy_pending(&pending);
  impl->valid = true;
  if (st == DuckDBError) {
    return StatusFromErrorType(duckdb_result_error_type(&impl->result), ErrorOf(&impl->result));
  }
  impl->columns = impl_->columns;
  impl->types = impl_->types;
  return std::unique_ptr<Result>(new Result(std::move(impl)));
}

StatusOr<bool> Result::Next(Chunk* chunk) {
  chunk->rows.clear();
  duckdb_data_chunk data = duckdb_fetch_chunk(impl_->result);
  if (data == nullptr) {
    const char* error = duckdb_result_error(&impl_->result);
    if (error != nullptr) {
      return StatusFromErrorType(duckdb_result_error_type(&impl_->result), error);
    }
    return false;
  }
  idx_t n = duckdb_data_chunk_get_size(data);
  size_t cols = impl_->types.size();
  chunk->rows.resize(n);
  for (size_t c = 0; c < cols; ++c) {
    duckdb_vector v = duckdb_data_chunk_get_vector(data, c);
    for (idx_t r = 0; r < n; ++r) {
      if (c == 0) chunk->rows[r].resize(cols);
      ReadDatum(impl_->types[c], v, r, &chunk->rows[r][c]);
    }
  }
  duckdb_destroy_data_chunk(&data);
  return true;
}

// ---- Appender ----

struct Appender::Impl {
  duckdb_appender appender = nullptr;
  std::vector<DataType> types;
  std::vector<duckdb_logical_type> logical;  // owned, parallel to types
  std::string table;
  ~Impl() {
    for (duckdb_logical_type& t : logical) duckdb_destroy_logical_type(&t);
    if (appender != nullptr) duckdb_appender_destroy(&appender);
  }
  Status Error(std::string_view what) const {
    duckdb_error_data data = duckdb_appender_error_data(appender);
    std::string message = data != nullptr && duckdb_error_data_has_error(data)
                              ? duckdb_error_data_message(data)
                              : "unknown error";
    if (data != nullptr) duckdb_destroy_error_data(&data);
    return Status::InvalidArgument(fmt::format("appending to '{}': {}: {}", table, what, message));
  }
};

Appender::Appender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Appender::~Appender() = default;
const std::vector<DataType>& Appender::column_types() const { return impl_->types; }

StatusOr<std::unique_ptr<Appender>> Connection::CreateAppender(std::string_view schema,
                                                               std::string_view table) {
  auto impl = std::make_unique<Appender::Impl>();
  impl->table = std::string(table);
  std::string s(schema);
  if (duckdb_appender_create(impl_->conn, s.empty() ? nullptr : s.c_str(), impl->table.c_str(),
                             &impl->appender) == DuckDBError) {
    return impl->Error("cannot create an appender");
  }
  idx_t n = duckdb_appender_column_count(impl->appender);
  for (idx_t i = 0; i < n; ++i) {
    duckdb_logical_type t = duckdb_appender_column_type(impl->appender, i);
    impl->logical.push_back(t);
    impl->types.push_back(ReadType(t).neutral);
  }
  return std::unique_ptr<Appender>(new Appender(std::move(impl)));
}

namespace {

// A duckdb_value for `d` read as `type`; nullptr when the type is not supported.
duckdb_value MakeValue(const Datum& d, const DataType& type, duckdb_logical_type logical) {
  if (d.is_null) return duckdb_create_null_value();
  switch (type.kind) {
    case TypeKind::kBoolean:
      return duckdb_create_bool(d.int_value != 0);
    case TypeKind::kTinyInt:
    case TypeKind::kSmallInt:
    case TypeKind::kInteger:
    case TypeKind::kBigInt:
      return duckdb_create_int64(d.int_value);
    case TypeKind::kDouble:
    case TypeKind::kFloat:
      return duckdb_create_double(d.double_value);
    case TypeKind::kVarchar:
      return duckdb_create_varchar_length(d.text.data(), d.text.size());
    case TypeKind::kTimestamp:
      return duckdb_create_timestamp(duckdb_timestamp{d.int_value});
    case TypeKind::kTimestampTz:
      return duckdb_create_timestamp_tz(duckdb_timestamp{d.int_value});
    case TypeKind::kList: {
      LogicalType child(duckdb_list_type_child_type(logical));
      std::vector<duckdb_value> items;
      items.reserve(d.children.size());
      duckdb_value list = nullptr;
      bool ok = true;
      for (const Datum& e : d.children) {
        duckdb_value v = MakeValue(e, type.children[0], child.get());
        if (v == nullptr) {
          ok = false;
          break;
        }
        items.push_back(v);
      }
      // DuckDB refuses a null value array even for an empty list.
      duckdb_value none = nullptr;
      if (ok)
        list = duckdb_create_list_value(child.get(), items.empty() ? &none : items.data(),
                                        items.size());
      for (duckdb_value& v : items) duckdb_destroy_value(&v);
      return list;
    }
    default:
      return nullptr;
  }
}

}  // namespace

Status Appender::AppendRow(const std::vector<Datum>& row) {
  Impl& m = *impl_;
  if (row.size() != m.types.size()) {
    return Status::InvalidArgument(
        fmt::format("appending to '{}': row has {} values, table has {} columns", m.table,
                    row.size(), m.types.size()));
  }
  for (size_t i = 0; i < row.size(); ++i) {
    const Datum& d = row[i];
    const DataType& t = m.types[i];
    duckdb_state st;
    if (d.is_null) {
      st = duckdb_append_null(m.appender);
    } else {
      switch (t.kind) {
        case TypeKind::kBoolean:
          st = duckdb_append_bool(m.appender, d.int_value != 0);
          break;
        case TypeKind::kTinyInt:
        case TypeKind::kSmallInt:
        case TypeKind::kInteger:
        case TypeKind::kBigInt:
          st = duckdb_append_int64(m.appender, d.int_value);
          break;
        case TypeKind::kFloat:
        case TypeKind::kDouble:
          st = duckdb_append_double(m.appender, d.double_value);
          break;
        case TypeKind::kVarchar:
          st = duckdb_append_varchar_length(m.appender, d.text.data(), d.text.size());
          break;
        case TypeKind::kTimestamp:
          st = duckdb_append_timestamp(m.appender, duckdb_timestamp{d.int_value});
          break;
        default: {
          duckdb_value v = MakeValue(d, t, m.logical[i]);
          if (v == nullptr) {
            return Status::InvalidArgument(fmt::format(
                "appending to '{}': column {} has type {}, which the appender does not support",
                m.table, i, t.ToSql()));
          }
          st = duckdb_append_value(m.appender, v);
          duckdb_destroy_value(&v);
        }
      }
    }
    if (st == DuckDBError) return m.Error(fmt::format("column {}", i));
  }
  if (duckdb_appender_end_row(m.appender) == DuckDBError) return m.Error("end of row");
  return Status::OK();
}

Status Appender::Flush() {
  if (duckdb_appender_flush(impl_->appender) == DuckDBError) return impl_->Error("flush");
  return Status::OK();
}

Status Appender::Close() {
  if (duckdb_appender_close(impl_->appender) == DuckDBError) return impl_->Error("close");
  return Status::OK();
}

}  // namespace larder::offline
