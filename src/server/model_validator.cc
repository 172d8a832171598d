#include "server/model_validator.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <unordered_map>

#include "common/status_macros.h"

namespace larder::server {
namespace {

constexpr int kMaxDepth = 64;            // deeper input is rejected, not recursed into
constexpr size_t kMaxShownValue = 1024;  // longer values are cut in messages

enum class ShapeType {
  kStructure,
  kList,
  kMap,
  kString,
  kInteger,
  kLong,
  kFloat,
  kDouble,
  kBoolean,
  kTimestamp,
  kBlob,
};

std::optional<ShapeType> ShapeTypeFromName(std::string_view t) {
  if (t == "structure") return ShapeType::kStructure;
  if (t == "list") return ShapeType::kList;
  if (t == "map") return ShapeType::kMap;
  if (t == "string") return ShapeType::kString;
  if (t == "integer") return ShapeType::kInteger;
  if (t == "long") return ShapeType::kLong;
  if (t == "float") return ShapeType::kFloat;
  if (t == "double") return ShapeType::kDouble;
  if (t == "boolean") return ShapeType::kBoolean;
  if (t == "timestamp") return ShapeType::kTimestamp;
  if (t == "blob") return ShapeType::kBlob;
  return std::nullopt;
}

struct PatternDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

struct Shape;

struct Member {
  std::string name;       // as in the model ("FeatureGroupName")
  std::string path_name;  // as AWS writes it in messages ("featureGroupName")
  std::string shape_name;
  const Shape* shape = nullptr;
  bool required = false;
};

struct Shape {
  std::string name;
  ShapeType type = ShapeType::kStructure;
  std::optional<double> min;
  std::optional<double> max;
  std::vector<std::string> enum_values;
  std::string enum_text;  // "[a, b, c]"
  std::string pattern;    // as in the model (messages quote it)
  std::unique_ptr<pcre2_code, PatternDeleter> regex;
  bool is_union = false;
  std::vector<Member> members;  // structure, in model order
  std::string member_shape_name, key_shape_name, value_shape_name;
  const Shape* member = nullptr;  // list
  const Shape* key = nullptr;     // map
  const Shape* value = nullptr;   // map
};

std::string LowerCamel(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z')
    out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
}

std::string FormatNumber(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// A JSON value as it appears in messages: strings bare, everything else as compact JSON.
std::string Render(const rapidjson::Value& v) {
  std::string out;
  if (v.IsString()) {
    out.assign(v.GetString(), v.GetStringLength());
  } else {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    out.assign(buf.GetString(), buf.GetSize());
  }
  if (out.size() > kMaxShownValue) {
    size_t cut = kMaxShownValue;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

size_t CountCharacters(const char* s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads "\uXXXX" at p (p points at the backslash); returns the code unit or -1.
int ReadUnicodeEscape(std::string_view s, size_t p) {
  if (p + 6 > s.size() || s[p] != '\\' || s[p + 1] != 'u') return -1;
  int v = 0;
  for (size_t i = p + 2; i < p + 6; ++i) {
    int d = HexDigit(s[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

std::string TranslateJavaPattern(std::string_view in) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '\\' || i + 1 >= in.size()) {
      if (c == '[' && !in_class) {
        in_class = true;
      } else if (c == ']' && in_class) {
        in_class = false;
      }
      out += c;
      continue;
    }
    char e = in[i + 1];
    if (e == 'u') {
      int unit = ReadUnicodeEscape(in, i);
      if (unit >= 0) {
        long code = unit;
        size_t used = 6;
        int low = ReadUnicodeEscape(in, i + 6);
        if (unit >= 0xD800 && unit <= 0xDBFF && low >= 0xDC00 && low <= 0xDFFF) {
          code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
          used = 12;
        }
        char buf[24];
        std::snprintf(buf, sizeof(buf), "\\x{%lx}", code);
        out += buf;
        i += used - 1;
        continue;
      }
    }
    // Java's \d \w \s are ASCII-only; PCRE2_UCP would widen them to Unicode.
    const char* ascii = nullptr;
    switch (e) {
      case 'd':
        ascii = "0-9";
        break;
      case 'w':
        ascii = "a-zA-Z_0-9";
        break;
      case 's':
        ascii = " \\t\\n\\x0B\\f\\r";
        break;
      default:
        break;
    }
    if (ascii != nullptr) {
      out += in_class ? std::string(ascii) : "[" + std::string(ascii) + "]";
      ++i;
      continue;
    }
    if (!in_class && (e == 'D' || e == 'W' || e == 'S')) {
      const char* neg = e == 'D' ? "0-9" : (e == 'W' ? "a-zA-Z_0-9" : " \\t\\n\\x0B\\f\\r");
      out += "[^" + std::string(neg) + "]";
      ++i;
      continue;
    }
    out += c;
    out += e;
    ++i;
  }
  return out;
}

class ServiceModel::Impl {
 public:
  Status Load(std::string_view json);
  Status Validate(const Shape& shape, const rapidjson::Value& v, std::string_view path) const;

  std::string target_prefix;
  std::vector<std::pair<std::string, const Shape*>> operations;  // name -> input (may be null)
  std::unordered_map<std::string, std::unique_ptr<Shape>> shapes;

  const Shape* FindShape(std::string_view name) const {
    auto it = shapes.find(std::string(name));
    return it == shapes.end() ? nullptr : it->second.get();
  }

 private:
  Status LoadShape(const std::string& name, const rapidjson::Value& def);
  void Check(const Shape& s, const rapidjson::Value& v, const std::string& path, int depth,
             std::vector<std::string>* errors) const;
  void CheckString(const Shape& s, const rapidjson::Value& v, const std::string& path,
                   std::vector<std::string>* errors) const;
};

namespace {

std::string Violation(const rapidjson::Value& v, const std::string& path,
                      std::string_view constraint) {
  return "Value '" + Render(v) + "' at '" + path +
         "' failed to satisfy constraint: " + std::string(constraint);
}

std::string ChildPath(const std::string& parent, std::string_view child) {
  return parent.empty() ? std::string(child) : parent + "." + std::string(child);
}

std::optional<double> NumberMember(const rapidjson::Value& def, const char* key) {
  auto it = def.FindMember(key);
  if (it == def.MemberEnd() || !it->value.IsNumber()) return std::nullopt;
  return it->value.GetDouble();
}

std::string StringMember(const rapidjson::Value& def, const char* key) {
  auto it = def.FindMember(key);
  if (it == def.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// {"shape": "X"} -> "X"
std::string ShapeRef(const rapidjson::Value& def, const char* key) {
  auto it = def.FindMember(key);
  if (it == def.MemberEnd() || !it->value.IsObject()) return "";
  return StringMember(it->value, "shape");
}

}  // namespace

Status ServiceModel::Impl::LoadShape(const std::string& name, const rapidjson::Value& def) {
  auto shape = std::make_unique<Shape>();
  shape->name = name;
  std::string type = StringMember(def, "type");
  std::optional<ShapeType> t = ShapeTypeFromName(type);
  if (!t.has_value()) {
    return Status::InvalidArgument("service model: shape '" + name + "' has unknown type '" + type +
                                   "'");
  }
  shape->type = *t;
  shape->min = NumberMember(def, "min");
  shape->max = NumberMember(def, "max");
  if (auto it = def.FindMember("enum"); it != def.MemberEnd() && it->value.IsArray()) {
    shape->enum_text = "[";
    for (const auto& e : it->value.GetArray()) {
      if (!e.IsString()) continue;
      if (!shape->enum_values.empty()) shape->enum_text += ", ";
      shape->enum_values.emplace_back(e.GetString(), e.GetStringLength());
      shape->enum_text += shape->enum_values.back();
    }
    shape->enum_text += "]";
  }
  shape->pattern = StringMember(def, "pattern");
  if (!shape->pattern.empty()) {
    std::string translated = TranslateJavaPattern(shape->pattern);
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &err, &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Status::InvalidArgument("service model: shape '" + name + "' pattern '" +
                                     shape->pattern + "' does not compile at offset " +
                                     std::to_string(offset) + ": " +
                                     reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: the interpreter still works
    shape->regex.reset(code);
  }
  if (auto it = def.FindMember("union"); it != def.MemberEnd() && it->value.IsBool()) {
    shape->is_union = it->value.GetBool();
  }
  if (shape->type == ShapeType::kStructure) {
    std::vector<std::string> required;
    if (auto it = def.FindMember("required"); it != def.MemberEnd() && it->value.IsArray()) {
      for (const auto& r : it->value.GetArray()) {
        if (r.IsString()) required.emplace_back(r.GetString(), r.GetStringLength());
      }
    }
    if (auto it = def.FindMember("members"); it != def.MemberEnd() && it->value.IsObject()) {
      for (const auto& m : it->value.GetObject()) {
        Member member;
        member.name.assign(m.name.GetString(), m.name.GetStringLength());
        member.path_name = LowerCamel(member.name);
        member.shape_name = m.value.IsObject() ? StringMember(m.value, "shape") : "";
        member.required =
            std::find(required.begin(), required.end(), member.name) != required.end();
        shape->members.push_back(std::move(member));
      }
    }
  }
  shape->member_shape_name = ShapeRef(def, "member");
  shape->key_shape_name = ShapeRef(def, "key");
  shape->value_shape_name = ShapeRef(def, "value");
  shapes[name] = std::move(shape);
  return Status::OK();
}

Status ServiceModel::Impl::Load(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::InvalidArgument("service model is not a JSON object (offset " +
                                   std::to_string(doc.GetErrorOffset()) + ")");
  }
  const rapidjson::Value& root = doc;
  auto meta = root.FindMember("metadata");
  if (meta != root.MemberEnd() && meta->value.IsObject()) {
    target_prefix = StringMember(meta->value, "targetPrefix");
  }
  auto shapes_it = root.FindMember("shapes");
  auto ops_it = root.FindMember("operations");
  if (shapes_it == root.MemberEnd() || !shapes_it->value.IsObject() || ops_it == root.MemberEnd() ||
      !ops_it->value.IsObject()) {
    return Status::InvalidArgument("service model lacks 'shapes' or 'operations'");
  }
  for (const auto& s : shapes_it->value.GetObject()) {
    if (!s.value.IsObject()) continue;
    RETURN_IF_ERROR(LoadShape(std::string(s.name.GetString(), s.name.GetStringLength()), s.value));
  }
  auto resolve = [&](const std::string& owner, const std::string& ref,
                     const Shape** out) -> Status {
    if (ref.empty()) return Status::OK();
    *out = FindShape(ref);
    if (*out == nullptr) {
      return Status::InvalidArgument("service model: '" + owner + "' refers to unknown shape '" +
                                     ref + "'");
    }
    return Status::OK();
  };
  for (auto& [name, shape] : shapes) {
    for (Member& m : shape->members) RETURN_IF_ERROR(resolve(name, m.shape_name, &m.shape));
    RETURN_IF_ERROR(resolve(name, shape->member_shape_name, &shape->member));
    RETURN_IF_ERROR(resolve(name, shape->key_shape_name, &shape->key));
    RETURN_IF_ERROR(resolve(name, shape->value_shape_name, &shape->value));
    if (shape->type == ShapeType::kList && shape->member == nullptr) {
      return Status::InvalidArgument("service model: list shape '" + name + "' has no member");
    }
  }
  for (const auto& op : ops_it->value.GetObject()) {
    std::string name(op.name.GetString(), op.name.GetStringLength());
    const Shape* input = nullptr;
    if (op.value.IsObject()) RETURN_IF_ERROR(resolve(name, ShapeRef(op.value, "input"), &input));
    operations.emplace_back(name, input);
  }
  return Status::OK();
}

void ServiceModel::Impl::CheckString(const Shape& s, const rapidjson::Value& v,
                                     const std::string& path,
                                     std::vector<std::string>* errors) const {
  const char* text = v.GetString();
  size_t bytes = v.GetStringLength();
  size_t chars = s.type == ShapeType::kBlob ? bytes : CountCharacters(text, bytes);
  if (s.min.has_value() && static_cast<double>(chars) < *s.min) {
    errors->push_back(Violation(
        v, path, "Member must have length greater than or equal to " + FormatNumber(*s.min)));
  }
  if (s.max.has_value() && static_cast<double>(chars) > *s.max) {
    errors->push_back(Violation(
        v, path, "Member must have length less than or equal to " + FormatNumber(*s.max)));
  }
  if (!s.enum_values.empty() && std::find(s.enum_values.begin(), s.enum_values.end(),
                                          std::string_view(text, bytes)) == s.enum_values.end()) {
    errors->push_back(Violation(v, path, "Member must satisfy enum value set: " + s.enum_text));
  }
  if (s.regex != nullptr) {
    // One ovector pair is enough: only whether it matched matters (rc 0 = matched).
    thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
        pcre2_match_data_create(1, nullptr));
    int rc = pcre2_match(s.regex.get(), reinterpret_cast<PCRE2_SPTR>(text), bytes, 0, 0, md.get(),
                         nullptr);
    if (rc < 0) {
      errors->push_back(
          Violation(v, path, "Member must satisfy regular expression pattern: " + s.pattern));
    }
  }
}

void ServiceModel::Impl::Check(const Shape& s, const rapidjson::Value& v, const std::string& path,
                               int depth, std::vector<std::string>* errors) const {
  if (depth > kMaxDepth) {
    errors->push_back("Value at '" + path +
                      "' failed to satisfy constraint: Member must not be "
                      "nested more than " +
                      std::to_string(kMaxDepth) + " levels deep");
    return;
  }
  auto type_error = [&](std::string_view what) {
    errors->push_back(Violation(v, path, "Member must be " + std::string(what)));
  };
  switch (s.type) {
    case ShapeType::kStructure: {
      if (!v.IsObject()) return type_error("a structure (JSON object)");
      size_t set = 0;
      for (const Member& m : s.members) {
        auto it = v.FindMember(m.name.c_str());
        std::string child = ChildPath(path, m.path_name);
        if (it == v.MemberEnd() || it->value.IsNull()) {
          if (m.required) {
            errors->push_back("Value null at '" + child +
                              "' failed to satisfy constraint: Member must not be null");
          }
          continue;
        }
        ++set;
        if (m.shape != nullptr) Check(*m.shape, it->value, child, depth + 1, errors);
      }
      if (s.is_union && set != 1) {
        errors->push_back(Violation(
            v, path,
            "Member must have exactly one member set, but " + std::to_string(set) + " are set"));
      }
      return;
    }
    case ShapeType::kList: {
      if (!v.IsArray()) return type_error("a list (JSON array)");
      double n = v.Size();
      if (s.min.has_value() && n < *s.min) {
        errors->push_back(Violation(
            v, path, "Member must have length greater than or equal to " + FormatNumber(*s.min)));
      }
      if (s.max.has_value() && n > *s.max) {
        errors->push_back(Violation(
            v, path, "Member must have length less than or equal to " + FormatNumber(*s.max)));
      }
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        std::string child = path + "." + std::to_string(i + 1) + ".member";
        if (v[i].IsNull()) {
          errors->push_back("Value null at '" + child +
                            "' failed to satisfy constraint: Member must not be null");
          continue;
        }
        Check(*s.member, v[i], child, depth + 1, errors);
      }
      return;
    }
    case ShapeType::kMap: {
      if (!v.IsObject()) return type_error("a map (JSON object)");
      double n = v.MemberCount();
      if (s.min.has_value() && n < *s.min) {
        errors->push_back(Violation(
            v, path, "Member must have length greater than or equal to " + FormatNumber(*s.min)));
      }
      if (s.max.has_value() && n > *s.max) {
        errors->push_back(Violation(
            v, path, "Member must have length less than or equal to " + FormatNumber(*s.max)));
      }
      for (const auto& e : v.GetObject()) {
        std::string key(e.name.GetString(), e.name.GetStringLength());
        if (s.key != nullptr) Check(*s.key, e.name, path + ".key", depth + 1, errors);
        if (s.value != nullptr && !e.value.IsNull()) {
          Check(*s.value, e.value, path + "." + key, depth + 1, errors);
        }
      }
      return;
    }
    case ShapeType::kString:
    case ShapeType::kBlob:
      if (!v.IsString()) return type_error("a string");
      return CheckString(s, v, path, errors);
    case ShapeType::kInteger:
    case ShapeType::kLong: {
      if (!v.IsInt64() && !v.IsUint64()) return type_error("an integer");
      if (s.type == ShapeType::kInteger && !v.IsInt()) return type_error("a 32-bit integer");
      double n = v.GetDouble();
      if (s.min.has_value() && n < *s.min) {
        errors->push_back(Violation(
            v, path, "Member must have value greater than or equal to " + FormatNumber(*s.min)));
      }
      if (s.max.has_value() && n > *s.max) {
        errors->push_back(Violation(
            v, path, "Member must have value less than or equal to " + FormatNumber(*s.max)));
      }
      return;
    }
    case ShapeType::kFloat:
    case ShapeType::kDouble: {
      if (!v.IsNumber()) return type_error("a number");
      double n = v.GetDouble();
      if (s.min.has_value() && n < *s.min) {
        errors->push_back(Violation(
            v, path, "Member must have value greater than or equal to " + FormatNumber(*s.min)));
      }
      if (s.max.has_value() && n > *s.max) {
        errors->push_back(Violation(
            v, path, "Member must have value less than or equal to " + FormatNumber(*s.max)));
      }
      return;
    }
    case ShapeType::kBoolean:
      if (!v.IsBool()) return type_error("a boolean");
      return;
    case ShapeType::kTimestamp:
      if (!v.IsNumber() && !v.IsString()) {
        return type_error("a timestamp (epoch seconds or an ISO-8601 string)");
      }
      return;
  }
}

Status ServiceModel::Impl::Validate(const Shape& shape, const rapidjson::Value& v,
                                    std::string_view path) const {
  std::vector<std::string> errors;
  Check(shape, v, std::string(path), 0, &errors);
  if (errors.empty()) return Status::OK();
  std::string msg =
      std::to_string(errors.size()) +
      (errors.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) msg += "; ";
    msg += errors[i];
  }
  return Status::InvalidArgument(std::move(msg));
}

ServiceModel::ServiceModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServiceModel::~ServiceModel() = default;

StatusOr<std::unique_ptr<ServiceModel>> ServiceModel::Parse(std::string_view json) {
  auto impl = std::make_unique<Impl>();
  RETURN_IF_ERROR(impl->Load(json));
  return std::unique_ptr<ServiceModel>(new ServiceModel(std::move(impl)));
}

const std::string& ServiceModel::target_prefix() const { return impl_->target_prefix; }

bool ServiceModel::HasOperation(std::string_view operation) const {
  for (const auto& [name, input] : impl_->operations) {
    if (name == operation) return true;
  }
  return false;
}

std::vector<std::string> ServiceModel::OperationNames() const {
  std::vector<std::string> out;
  for (const auto& [name, input] : impl_->operations) out.push_back(name);
  return out;
}

Status ServiceModel::ValidateInput(std::string_view operation,
                                   const rapidjson::Value& input) const {
  for (const auto& [name, shape] : impl_->operations) {
    if (name != operation) continue;
    if (shape == nullptr) {
      if (input.IsObject()) return Status::OK();
      return Status::InvalidArgument("the request body of " + name + " must be a JSON object");
    }
    return impl_->Validate(*shape, input, "");
  }
  return Status::NotFound("the service model has no operation '" + std::string(operation) + "'");
}

Status ServiceModel::ValidateShape(std::string_view shape_name, const rapidjson::Value& value,
                                   std::string_view path) const {
  const Shape* shape = impl_->FindShape(shape_name);
  if (shape == nullptr) {
    return Status::NotFound("the service model has no shape '" + std::string(shape_name) + "'");
  }
  return impl_->Validate(*shape, value, path);
}

}  // namespace larder::server
