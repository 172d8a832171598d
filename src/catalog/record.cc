#include "catalog/record.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <unordered_set>

#include "common/status_macros.h"

namespace larder::catalog {
namespace {

// ---- Varint coding (LevelDB's format: 7 bits a byte, least significant group first). ----

void PutVarint64(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutVarint32(uint32_t v, std::string* out) { PutVarint64(v, out); }

void PutLengthPrefixed(std::string_view s, std::string* out) {
  PutVarint32(static_cast<uint32_t>(s.size()), out);
  out->append(s);
}

bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (shift == 63 && byte > 1) return false;  // more than 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetVarint32(std::string_view* in, uint32_t* v) {
  uint64_t wide;
  if (!GetVarint64(in, &wide) || wide > std::numeric_limits<uint32_t>::max()) return false;
  *v = static_cast<uint32_t>(wide);
  return true;
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  uint32_t len;
  if (!GetVarint32(in, &len) || len > in->size()) return false;
  *s = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// ---- Text helpers. ----

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the longest prefix of `s` of at most `max` bytes that does not split a UTF-8 sequence.
size_t Utf8SafePrefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// `text` in double quotes for an error message, shortened so messages stay readable.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxQuoted = 100;
  std::string q = "\"";
  size_t n = Utf8SafePrefix(text, kMaxQuoted);
  q.append(text.substr(0, n));
  if (n < text.size()) q += "...";
  q += '"';
  return q;
}

// Offset of the first byte that breaks UTF-8 validity (RFC 3629: no overlongs, no surrogates,
// at most U+10FFFF), or npos if `s` is valid.
size_t FirstInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// A decimal number split into its parts: [+-] int_digits [. frac_digits] [e [+-] exponent].
struct Decimal {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
  int64_t exponent = 0;
};

// Parses `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?` when allow_exponent (and allow_plus), else
// `-?d+(.d+)?`. Exponents beyond +-100000 are rejected (no finite double or int64 needs them).
bool ParseDecimal(std::string_view s, bool allow_exponent, Decimal* d) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || (allow_exponent && s[i] == '+'))) {
    d->negative = s[i] == '-';
    ++i;
  }
  size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  d->int_digits = s.substr(start, i - start);
  if (i < s.size() && s[i] == '.') {
    ++i;
    start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    d->frac_digits = s.substr(start, i - start);
    if (!allow_exponent && d->frac_digits.empty()) return false;  // "12." is not epoch seconds
  }
  if (d->int_digits.empty() && d->frac_digits.empty()) return false;
  if (!allow_exponent && d->int_digits.empty()) return false;  // ".5" is not epoch seconds
  if (i < s.size() && allow_exponent && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg_exp = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      neg_exp = s[i] == '-';
      ++i;
    }
    start = i;
    int64_t e = 0;
    while (i < s.size() && IsDigit(s[i])) {
      e = e * 10 + (s[i] - '0');
      if (e > 100000) return false;
      ++i;
    }
    if (i == start) return false;
    d->exponent = neg_exp ? -e : e;
  }
  return i == s.size();
}

// The integer a Decimal denotes, if it is a whole number in int64 range. *overflow is set when
// it is whole but out of range.
bool DecimalToInt64(const Decimal& d, int64_t* out, bool* overflow) {
  *overflow = false;
  // All significant digits, then where the decimal point sits in them.
  std::string digits;
  digits.reserve(d.int_digits.size() + d.frac_digits.size());
  digits.append(d.int_digits).append(d.frac_digits);
  int64_t point = static_cast<int64_t>(d.int_digits.size()) + d.exponent;
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    *out = 0;
    return true;
  }
  // Digits right of the point must all be zero.
  if (point < static_cast<int64_t>(digits.size())) {
    if (point <= static_cast<int64_t>(first)) return false;
    for (size_t k = static_cast<size_t>(point); k < digits.size(); ++k) {
      if (digits[k] != '0') return false;
    }
    digits.resize(static_cast<size_t>(point));
  } else {
    int64_t zeros = point - static_cast<int64_t>(digits.size());
    if (point - static_cast<int64_t>(first) > 19) {  // more than 19 digits: beyond int64
      *overflow = true;
      return false;
    }
    digits.append(static_cast<size_t>(zeros), '0');
  }
  std::string_view mag = std::string_view(digits).substr(first);
  if (mag.size() > 19) {
    *overflow = true;
    return false;
  }
  uint64_t u = 0;
  auto [ptr, ec] = std::from_chars(mag.data(), mag.data() + mag.size(), u);
  if (ec != std::errc() || ptr != mag.data() + mag.size()) return false;
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (u > kMaxPositive + (d.negative ? 1 : 0)) {
    *overflow = true;
    return false;
  }
  *out = d.negative ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
  return true;
}

// ---- Calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms). ----

bool IsLeap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z as Unix seconds.
constexpr int64_t kMinEventSeconds = -62'167'219'200;
constexpr int64_t kMaxEventSeconds = 253'402'300'799;

int TwoDigits(std::string_view s, size_t at) {
  if (!IsDigit(s[at]) || !IsDigit(s[at + 1])) return -1;
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

// "yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z" -> micros (fraction truncated to microseconds).
bool ParseIso8601(std::string_view s, int64_t* micros) {
  // Fixed part: yyyy-MM-ddTHH:mm:ss is 19 bytes, then an optional fraction, then 'Z'.
  if (s.size() < 20 || s.back() != 'Z') return false;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return false;
  int yh = TwoDigits(s, 0), yl = TwoDigits(s, 2);
  int month = TwoDigits(s, 5), day = TwoDigits(s, 8);
  int hour = TwoDigits(s, 11), minute = TwoDigits(s, 14), second = TwoDigits(s, 17);
  if (yh < 0 || yl < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 59) {
    return false;
  }
  int64_t year = yh * 100 + yl;
  if (day > DaysInMonth(year, month)) return false;
  int64_t frac_micros = 0;
  std::string_view rest = s.substr(19, s.size() - 20);  // between the seconds and 'Z'
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() < 2 || rest.size() > 10) return false;
    for (size_t k = 1; k < rest.size(); ++k) {
      if (!IsDigit(rest[k])) return false;
      if (k <= 6) frac_micros = frac_micros * 10 + (rest[k] - '0');
    }
    for (size_t k = rest.size(); k <= 6; ++k) frac_micros *= 10;
  }
  int64_t days = DaysFromCivil(year, month, day);
  int64_t seconds = days * kSecondsPerDay + hour * 3600 + minute * 60 + second;
  *micros = seconds * kMicrosPerSecond + frac_micros;
  return true;
}

// A Decimal's value in microseconds, rounded toward negative infinity; false when out of the
// event time range.
bool DecimalToMicros(const Decimal& d, int64_t* micros) {
  std::string digits;
  digits.append(d.int_digits).append(d.frac_digits);
  int64_t point = static_cast<int64_t>(d.int_digits.size()) + d.exponent;
  // Whole seconds: digits left of the point; micros: the next six; anything after, a remainder.
  int64_t seconds = 0;
  int64_t frac = 0;
  bool remainder = false;
  int64_t n = static_cast<int64_t>(digits.size());
  for (int64_t k = std::min<int64_t>(0, point); k < std::max<int64_t>(n, point + 6); ++k) {
    int digit = (k >= 0 && k < n) ? digits[static_cast<size_t>(k)] - '0' : 0;
    if (k < point) {
      if (seconds > kMaxEventSeconds) return false;  // keep clear of overflow
      seconds = seconds * 10 + digit;
    } else if (k < point + 6) {
      frac = frac * 10 + digit;
    } else if (digit != 0) {
      remainder = true;
    }
  }
  if (seconds > kMaxEventSeconds + 1) return false;
  int64_t value = seconds * kMicrosPerSecond + frac;
  if (d.negative) value = -value - (remainder ? 1 : 0);
  if (value < kMinEventSeconds * kMicrosPerSecond ||
      value > kMaxEventSeconds * kMicrosPerSecond + (kMicrosPerSecond - 1)) {
    return false;
  }
  *micros = value;
  return true;
}

constexpr std::string_view kStringEventTimeForms =
    "expected ISO-8601 UTC yyyy-MM-ddTHH:mm:ssZ with 0 to 9 fraction digits "
    "(\"2024-01-31T12:00:00Z\", \"2024-01-31T12:00:00.123Z\") or Unix epoch seconds "
    "(\"1700000000\", \"1700000000.25\")";
constexpr std::string_view kFractionalEventTimeForms =
    "expected Unix epoch seconds as a number (\"1700000000\", \"1700000000.25\")";
constexpr std::string_view kEventTimeRange =
    "0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z";

Status EventTimeError(std::string_view feature_name, FeatureType type, std::string_view text) {
  return Status::InvalidArgument("feature '" + std::string(feature_name) +
                                 "' has an invalid event time " + Quote(text) + ": " +
                                 std::string(type == FeatureType::kFractional
                                                 ? kFractionalEventTimeForms
                                                 : kStringEventTimeForms));
}

Status EventTimeRangeError(std::string_view feature_name, std::string_view text) {
  return Status::InvalidArgument("feature '" + std::string(feature_name) + "' has event time " +
                                 Quote(text) + " outside the supported range " +
                                 std::string(kEventTimeRange));
}

void AppendTwoDigits(int v, std::string* out) {
  out->push_back(static_cast<char>('0' + v / 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

// Splits micros into (seconds, micros within the second), flooring.
void SplitMicros(int64_t micros, int64_t* seconds, int64_t* sub) {
  *seconds = micros / kMicrosPerSecond;
  *sub = micros % kMicrosPerSecond;
  if (*sub < 0) {
    *sub += kMicrosPerSecond;
    *seconds -= 1;
  }
}

// yyyy-MM-ddTHH:mm:ss (no fraction, no zone).
void AppendIsoSeconds(int64_t seconds, std::string* out) {
  int64_t days = seconds / kSecondsPerDay;
  int64_t in_day = seconds % kSecondsPerDay;
  if (in_day < 0) {
    in_day += kSecondsPerDay;
    days -= 1;
  }
  int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), year);
  size_t len = static_cast<size_t>(end - buf);
  if (year >= 0 && len < 4) out->append(4 - len, '0');
  out->append(buf, len);
  out->push_back('-');
  AppendTwoDigits(month, out);
  out->push_back('-');
  AppendTwoDigits(day, out);
  out->push_back('T');
  AppendTwoDigits(static_cast<int>(in_day / 3600), out);
  out->push_back(':');
  AppendTwoDigits(static_cast<int>(in_day / 60 % 60), out);
  out->push_back(':');
  AppendTwoDigits(static_cast<int>(in_day % 60), out);
}

// `width` digits of `v`, zero-padded.
void AppendPadded(int64_t v, int width, std::string* out) {
  char buf[8];
  for (int k = width - 1; k >= 0; --k) {
    buf[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out->append(buf, static_cast<size_t>(width));
}

bool LooksIso(std::string_view text) {
  return text.size() >= 20 && text[4] == '-' && text.back() == 'Z';
}

Status ScalarTypeError(std::string_view feature_name, FeatureType type, std::string_view text,
                       std::string_view expected) {
  return Status::InvalidArgument("feature '" + std::string(feature_name) + "' is " +
                                 std::string(FeatureTypeName(type)) + " but got " + Quote(text) +
                                 ": " + std::string(expected));
}

Status ValueTooLarge(std::string_view feature_name, size_t bytes) {
  return Status::InvalidArgument("feature '" + std::string(feature_name) + "' has a value of " +
                                 std::to_string(bytes) + " bytes; the limit is " +
                                 std::to_string(kMaxValueBytes) + " bytes");
}

}  // namespace

// ---- Codec. ----

void EncodeRecord(const Record& record, std::string* out) {
  PutVarint64(ZigZag(record.event_time_micros), out);
  PutVarint32(static_cast<uint32_t>(record.values.size()), out);
  for (const Value& v : record.values) {
    out->push_back(static_cast<char>(v.kind));
    switch (v.kind) {
      case Value::Kind::kNull:
        break;
      case Value::Kind::kScalar:
        PutLengthPrefixed(v.scalar, out);
        break;
      case Value::Kind::kList:
        PutVarint32(static_cast<uint32_t>(v.list.size()), out);
        for (const std::string& e : v.list) PutLengthPrefixed(e, out);
        break;
    }
  }
}

RecordReader::RecordReader(std::string_view in) : in_(in) {
  uint64_t zz;
  // Every value takes at least one byte, which bounds count_ before anyone reserves for it.
  if (!GetVarint64(&in_, &zz) || !GetVarint32(&in_, &count_) || count_ > in_.size()) {
    Fail();
    return;
  }
  event_time_micros_ = UnZigZag(zz);
}

bool RecordReader::Fail() {
  if (status_.ok()) status_ = Status::Corruption("stored record did not decode");
  count_ = index_ = 0;
  in_ = {};
  return false;
}

bool RecordReader::SkipRestOfList() {
  std::string_view e;
  while (list_left_ > 0) {
    if (!NextElement(&e)) return false;
  }
  return true;
}

bool RecordReader::Next() {
  if (!status_.ok()) return false;
  if (kind_ == Value::Kind::kList && !SkipRestOfList()) return false;
  if (index_ >= count_) {
    if (!in_.empty()) return Fail();  // trailing bytes
    return false;
  }
  if (in_.empty()) return Fail();
  auto kind = static_cast<uint8_t>(in_.front());
  in_.remove_prefix(1);
  ++index_;
  scalar_ = {};
  list_size_ = list_left_ = 0;
  switch (kind) {
    case static_cast<uint8_t>(Value::Kind::kNull):
      kind_ = Value::Kind::kNull;
      return true;
    case static_cast<uint8_t>(Value::Kind::kScalar):
      kind_ = Value::Kind::kScalar;
      if (!GetLengthPrefixed(&in_, &scalar_)) return Fail();
      return true;
    case static_cast<uint8_t>(Value::Kind::kList):
      kind_ = Value::Kind::kList;
      if (!GetVarint32(&in_, &list_size_) || list_size_ > in_.size()) return Fail();
      list_left_ = list_size_;
      return true;
    default:
      return Fail();
  }
}

bool RecordReader::NextElement(std::string_view* element) {
  if (!status_.ok() || kind_ != Value::Kind::kList || list_left_ == 0) return false;
  if (!GetLengthPrefixed(&in_, element)) return Fail();
  --list_left_;
  return true;
}

StatusOr<Record> DecodeRecord(std::string_view in) {
  RecordReader r(in);
  Record record;
  record.event_time_micros = r.event_time_micros();
  if (r.status().ok()) record.values.reserve(r.size());
  while (r.Next()) {
    Value& v = record.values.emplace_back();
    v.kind = r.kind();
    if (v.kind == Value::Kind::kScalar) {
      v.scalar = r.scalar();
    } else if (v.kind == Value::Kind::kList) {
      v.list.reserve(r.list_size());
      std::string_view e;
      while (r.NextElement(&e)) v.list.emplace_back(e);
    }
  }
  if (!r.status().ok()) return r.status();
  return record;
}

// ---- Event times. ----

StatusOr<int64_t> ParseEventTime(std::string_view feature_name, FeatureType type,
                                 std::string_view text) {
  if (type == FeatureType::kIntegral) {
    return Status::InvalidArgument("feature '" + std::string(feature_name) +
                                   "' is Integral and cannot hold an event time: event time "
                                   "features are String or Fractional");
  }
  int64_t micros;
  if (type == FeatureType::kString && LooksIso(text)) {
    if (!ParseIso8601(text, &micros)) return EventTimeError(feature_name, type, text);
    return micros;
  }
  Decimal d;
  if (!ParseDecimal(text, /*allow_exponent=*/type == FeatureType::kFractional, &d)) {
    return EventTimeError(feature_name, type, text);
  }
  if (!DecimalToMicros(d, &micros)) return EventTimeRangeError(feature_name, text);
  return micros;
}

std::string FormatIsoMillis(int64_t micros) {
  int64_t seconds, sub;
  SplitMicros(micros, &seconds, &sub);
  std::string out;
  out.reserve(24);
  AppendIsoSeconds(seconds, &out);
  out.push_back('.');
  AppendPadded(sub / 1000, 3, &out);
  out.push_back('Z');
  return out;
}

std::string FormatEventTimeLike(FeatureType type, std::string_view style_text, int64_t micros) {
  int64_t seconds, sub;
  SplitMicros(micros, &seconds, &sub);
  std::string out;
  if (type == FeatureType::kString && LooksIso(style_text)) {
    AppendIsoSeconds(seconds, &out);
    if (sub != 0) {
      out.push_back('.');
      AppendPadded(sub, 6, &out);
      while (out.back() == '0') out.pop_back();
    }
    out.push_back('Z');
    return out;
  }
  // Unix seconds: "-1.5" is -1500000 micros, so print the magnitude and then the sign.
  bool negative = micros < 0;
  uint64_t mag = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  if (negative) out.push_back('-');
  out += std::to_string(mag / kMicrosPerSecond);
  uint64_t frac = mag % kMicrosPerSecond;
  if (frac != 0) {
    out.push_back('.');
    AppendPadded(static_cast<int64_t>(frac), 6, &out);
    while (out.back() == '0') out.pop_back();
  }
  return out;
}

// ---- Values. ----

Status CanonicalizeScalar(std::string_view feature_name, FeatureType type, std::string_view text,
                          std::string* out) {
  switch (type) {
    case FeatureType::kString: {
      size_t bad = FirstInvalidUtf8(text);
      if (bad != std::string_view::npos) {
        return Status::InvalidArgument("feature '" + std::string(feature_name) +
                                       "' is String but its value is not valid UTF-8 (byte " +
                                       std::to_string(bad) + ")");
      }
      out->assign(text);
      return Status::OK();
    }
    case FeatureType::kIntegral: {
      // Fast path: a plain decimal integer keeps its text.
      int64_t v;
      if (!text.empty() && text.front() != '+') {
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec == std::errc() && ptr == text.data() + text.size()) {
          out->assign(text);
          return Status::OK();
        }
      }
      Decimal d;
      bool overflow = false;
      if (!ParseDecimal(text, /*allow_exponent=*/true, &d) || !DecimalToInt64(d, &v, &overflow)) {
        return ScalarTypeError(feature_name, type, text,
                               overflow ? "outside the signed 64-bit integer range"
                                        : "expected a whole number such as \"42\" or \"42.0\"");
      }
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
      out->assign(buf, static_cast<size_t>(end - buf));
      return Status::OK();
    }
    case FeatureType::kFractional: {
      Decimal d;
      if (!ParseDecimal(text, /*allow_exponent=*/true, &d)) {
        return ScalarTypeError(feature_name, type, text,
                               "expected a finite decimal number such as \"0.85\" or \"1e-3\"");
      }
      std::string_view t = text.front() == '+' ? text.substr(1) : text;
      double x;
      auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
      if (ec == std::errc::result_out_of_range) {
        // from_chars reports both overflow and underflow; only overflow is not finite.
        x = std::strtod(std::string(t).c_str(), nullptr);
      } else if (ec != std::errc() || ptr != t.data() + t.size()) {
        return ScalarTypeError(feature_name, type, text,
                               "expected a finite decimal number such as \"0.85\" or \"1e-3\"");
      }
      if (!std::isfinite(x)) {
        return ScalarTypeError(feature_name, type, text,
                               "outside the range of a 64-bit floating point number");
      }
      out->assign(text);
      return Status::OK();
    }
  }
  return Status::Internal("unknown feature type");
}

StatusOr<Record> BuildRecord(const FeatureGroup& group, const std::vector<FeatureValueInput>& in) {
  Record record;
  const size_t n = group.features.size();
  record.values.resize(n);
  size_t record_bytes = 0;
  size_t hint = 0;  // clients usually send features in definition order
  for (const FeatureValueInput& fv : in) {
    int idx;
    if (hint < n && group.features[hint].name == fv.name) {
      idx = static_cast<int>(hint);
    } else {
      idx = group.FeatureIndex(fv.name);
      if (idx < 0) {
        return Status::InvalidArgument("feature '" + std::string(fv.name) +
                                       "' is not defined in feature group '" + group.name + "'");
      }
    }
    hint = static_cast<size_t>(idx) + 1;
    const FeatureDefinition& def = group.features[static_cast<size_t>(idx)];
    Value& v = record.values[static_cast<size_t>(idx)];
    if (v.kind != Value::Kind::kNull) {
      return Status::InvalidArgument("feature '" + def.name +
                                     "' appears more than once in the record");
    }
    if (fv.has_scalar && fv.has_list) {
      return Status::InvalidArgument("feature '" + def.name +
                                     "' has both ValueAsString and ValueAsStringList; send one");
    }
    if (!fv.has_scalar && !fv.has_list) {
      return Status::InvalidArgument("feature '" + def.name +
                                     "' has no value: send ValueAsString or ValueAsStringList");
    }
    const std::string_view type_name = FeatureTypeName(def.type);
    if (def.collection == CollectionType::kNone) {
      if (fv.has_list) {
        return Status::InvalidArgument("feature '" + def.name + "' is a scalar " +
                                       std::string(type_name) +
                                       " feature but got ValueAsStringList; send ValueAsString");
      }
      if (fv.scalar.size() > kMaxValueBytes) return ValueTooLarge(def.name, fv.scalar.size());
      RETURN_IF_ERROR(CanonicalizeScalar(def.name, def.type, fv.scalar, &v.scalar));
      v.kind = Value::Kind::kScalar;
      record_bytes += def.name.size() + v.scalar.size();
      continue;
    }
    const std::string_view coll_name = CollectionTypeName(def.collection);
    if (fv.has_scalar) {
      return Status::InvalidArgument("feature '" + def.name + "' is a " + std::string(coll_name) +
                                     " of " + std::string(type_name) +
                                     " but got ValueAsString; send ValueAsStringList");
    }
    if (fv.list_has_null) {
      return Status::InvalidArgument("feature '" + def.name +
                                     "' has a null item in ValueAsStringList; collections may not "
                                     "contain nulls");
    }
    if (def.collection == CollectionType::kVector &&
        fv.list.size() != static_cast<size_t>(def.vector_dimension)) {
      return Status::InvalidArgument("feature '" + def.name + "' is a Vector of dimension " +
                                     std::to_string(def.vector_dimension) + " but got " +
                                     std::to_string(fv.list.size()) + " elements");
    }
    v.kind = Value::Kind::kList;
    v.list.reserve(fv.list.size());
    size_t value_bytes = 0;
    std::unordered_set<std::string_view> set_seen;
    for (std::string_view item : fv.list) {
      std::string canonical;
      RETURN_IF_ERROR(CanonicalizeScalar(def.name, def.type, item, &canonical));
      const size_t item_bytes = canonical.size();
      v.list.push_back(std::move(canonical));
      // set_seen views v.list's elements, which never move: v.list was reserved above.
      if (def.collection == CollectionType::kSet && !set_seen.insert(v.list.back()).second) {
        v.list.pop_back();  // a Set keeps the first occurrence
        continue;
      }
      value_bytes += item_bytes;
      if (value_bytes > kMaxValueBytes) return ValueTooLarge(def.name, value_bytes);
    }
    record_bytes += def.name.size() + value_bytes;
  }
  if (record_bytes > kMaxRecordBytes) {
    return Status::InvalidArgument("record of feature group '" + group.name + "' is " +
                                   std::to_string(record_bytes) + " bytes; the limit is " +
                                   std::to_string(kMaxRecordBytes) + " bytes");
  }
  const int rid = group.record_identifier_index();
  const int et = group.event_time_index();
  if (rid < 0 || et < 0) {
    return Status::Internal("feature group '" + group.name +
                            "' lacks its record identifier or event time definition");
  }
  const Value& id = record.values[static_cast<size_t>(rid)];
  if (id.kind != Value::Kind::kScalar) {
    return Status::InvalidArgument("the record identifier feature '" +
                                   group.record_identifier_name + "' is missing from the record");
  }
  if (id.scalar.empty()) {
    return Status::InvalidArgument("the record identifier feature '" +
                                   group.record_identifier_name + "' must not be empty");
  }
  if (id.scalar.size() > kMaxIdentifierBytes) {
    return Status::InvalidArgument("the record identifier feature '" +
                                   group.record_identifier_name + "' has a value of " +
                                   std::to_string(id.scalar.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxIdentifierBytes) + " bytes");
  }
  const Value& ev = record.values[static_cast<size_t>(et)];
  if (ev.kind != Value::Kind::kScalar) {
    return Status::InvalidArgument("the event time feature '" + group.event_time_feature_name +
                                   "' is missing from the record");
  }
  const FeatureDefinition& et_def = group.features[static_cast<size_t>(et)];
  ASSIGN_OR_RETURN(record.event_time_micros, ParseEventTime(et_def.name, et_def.type, ev.scalar));
  return record;
}

Record MakeMarker(const FeatureGroup& group, std::string_view identifier,
                  std::string_view event_time_text, int64_t event_time_micros) {
  Record r;
  r.event_time_micros = event_time_micros;
  const int rid = group.record_identifier_index();
  const int et = group.event_time_index();
  int last = std::max(rid, et);
  if (last < 0) return r;
  r.values.resize(static_cast<size_t>(last) + 1);
  if (rid >= 0) {
    r.values[static_cast<size_t>(rid)].kind = Value::Kind::kScalar;
    r.values[static_cast<size_t>(rid)].scalar.assign(identifier);
  }
  if (et >= 0) {
    r.values[static_cast<size_t>(et)].kind = Value::Kind::kScalar;
    r.values[static_cast<size_t>(et)].scalar.assign(event_time_text);
  }
  return r;
}

std::string_view ScalarAt(const Record& record, int index) {
  if (index < 0 || static_cast<size_t>(index) >= record.values.size()) return {};
  const Value& v = record.values[static_cast<size_t>(index)];
  return v.kind == Value::Kind::kScalar ? std::string_view(v.scalar) : std::string_view();
}

}  // namespace larder::catalog
